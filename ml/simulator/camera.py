"""What a phone camera adds to every simulated frame: slow exposure drift, sensor noise and
hand shake (a random walk of the whole frame). Seeded through the caller's generator."""

import numpy as np


class CameraEffects:
    def __init__(self, rng: np.random.Generator, *, noise: float, shake_step: float,
                 shake_limit: float, drift: float = 0.04, drift_period_ms: float = 3000.0):
        self.rng = rng
        self.noise, self.shake_step, self.shake_limit = noise, shake_step, shake_limit
        self.drift, self.drift_period_ms = drift, drift_period_ms
        self.drift_phase = rng.uniform(0, 2 * np.pi)
        self.shake = np.zeros(2)

    def apply(self, frame: np.ndarray, t_ms: float) -> np.ndarray:
        """A float frame in, the uint8 frame the camera would deliver at t_ms out."""
        frame = frame * (1.0 + self.drift * np.sin(2 * np.pi * t_ms / self.drift_period_ms
                                                   + self.drift_phase))
        frame += self.rng.normal(0.0, self.noise, frame.shape).astype(np.float32)
        self.shake = np.clip(self.shake + self.rng.normal(0, self.shake_step, 2),
                             -self.shake_limit, self.shake_limit)
        frame = np.roll(frame, (int(round(self.shake[1])), int(round(self.shake[0]))),
                        axis=(0, 1))
        return np.clip(frame, 0, 255).astype(np.uint8)
