"""Flash clips: a face lit by the phone's screen showing a colour sequence.

Light model: the screen is close to the face and far from the background, so each pixel is
scaled per channel by (1 - k) + k * 1.5 * colour / 255, with k = FACE_GAIN inside a soft
ellipse around the face and BACKGROUND_GAIN outside. Camera effects: a latency between the
screen and the frame, slow exposure drift, sensor noise, hand shake (a small random walk of
the whole frame) and frame-time jitter.

Scenarios (each labelled, for tests and evaluation):
- live: the face follows this session's challenge after a camera latency of 40-150 ms;
- replay: a recording made under another session's sequence;
- late: this session's sequence, but LATE_MS behind (frames forged after seeing it);
- static: nothing reacts to the screen (a photo or video shown on another screen).
"""

import numpy as np

from ..flash import PALETTE, FlashChallenge, flash_challenge_new
from .camera import CameraEffects

FACE_GAIN = 0.22
BACKGROUND_GAIN = 0.03
LATE_MS = 650
SCENARIOS = ("live", "replay", "late", "static")


def _fit(photo: np.ndarray, box: tuple[float, ...], max_side: int) -> tuple[np.ndarray, tuple]:
    import cv2

    scale = min(1.0, max_side / max(photo.shape[:2]))
    if scale < 1.0:
        photo = cv2.resize(photo, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return photo, tuple(v * scale for v in box)


def _face_weight(shape: tuple[int, ...], box: tuple[float, ...]) -> np.ndarray:
    height, width = shape
    x1, y1, x2, y2 = box
    cx, cy, rx, ry = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 0.75, (y2 - y1) * 0.8
    yy, xx = np.mgrid[0:height, 0:width]
    distance = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2
    face = np.exp(-np.maximum(distance - 0.6, 0) * 3.0)
    return (BACKGROUND_GAIN + (FACE_GAIN - BACKGROUND_GAIN) * face).astype(np.float32)[..., None]


def render_flash_clip(photo: np.ndarray, box: tuple[float, ...], challenge: FlashChallenge, *,
                      scenario: str, seed: int, fps: float = 15.0, max_side: int = 640
                      ) -> tuple[list[np.ndarray], list[float], tuple[float, ...]]:
    """(frames, timestamps in ms, the face box in frame pixels) for one scenario."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; one of {SCENARIOS}")
    rng = np.random.default_rng(seed)
    image, box = _fit(photo, box, max_side)
    base = image.astype(np.float32)
    weight = _face_weight(image.shape[:2], box)
    shown = challenge
    delay = float(rng.uniform(40, 150))
    if scenario == "replay":
        shown = flash_challenge_new(rng, count=len(challenge.segments))
        while [s.colour for s in shown.segments] == [s.colour for s in challenge.segments]:
            shown = flash_challenge_new(rng, count=len(challenge.segments))
    elif scenario == "late":
        delay += LATE_MS
    camera = CameraEffects(rng, noise=2.5, shake_step=0.7, shake_limit=4)
    frames, times = [], []
    t = 0.0
    end = challenge.duration_ms + 300
    while t <= end:
        colour = None if scenario == "static" else shown.colour_at(t - delay)
        if colour is None:
            gain = np.ones(3, np.float32)
        else:
            gain = np.asarray(PALETTE[colour], np.float32) / 255.0 * 1.5
        frames.append(camera.apply(base * ((1.0 - weight) + weight * gain), t))
        times.append(round(t, 1))
        t += 1000.0 / fps + float(rng.uniform(-5, 5))
    return frames, times, box
