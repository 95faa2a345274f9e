"""Flash liveness: does the face's colour follow the screen's random colour sequence, in time?

The phone's screen shows a sequence of colours (the session's challenge); the screen lights
the face, so the face's chromaticity moves toward each colour while it is shown. A replayed
video follows some other sequence, or none; frames forged after seeing the challenge arrive
late. The analyser, for a clip of frames with timestamps:

1. takes the face region (MTCNN on the first frame, the box then held: the clip is short and
   the SDK keeps the face centred) and its mean colour in each frame;
2. turns it into log-chromaticity (log R/G, log B/G), which cancels overall brightness and
   exposure drift, and removes the clip's mean;
3. builds the expected signal from the challenge: each segment's colour, in the same space,
   minus the challenge's mean;
4. cross-correlates observed and expected over lags from 0 to MAX_LAG_MS; the best lag must be
   at most LAG_TOLERANCE_MS (camera latency) and the normalised correlation at that lag at
   least MIN_CORRELATION; each segment's mean shift must point toward its colour.

Outcomes: pass, or fail with NO_FACE, NO_RESPONSE (the colour does not move with the screen),
WRONG_SEQUENCE (it moves, not with this challenge), LATE (it follows, too late).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from .jobs import FLASH_COLOURS, flash_sequence_new

# The screen's RGB for each colour a challenge may name (ml/jobs.py FLASH_COLOURS, in order).
PALETTE = dict(zip(FLASH_COLOURS, ((255, 40, 40), (40, 255, 40), (40, 40, 255),
                                   (255, 255, 40), (255, 40, 255), (40, 255, 255)), strict=True))
MAX_LAG_MS = 1000
LAG_TOLERANCE_MS = 250
MIN_CORRELATION = 0.6
MIN_SEGMENTS_AGREEING = 0.75
# log-chromaticity spread below which the face does not react to the screen at all (simulated
# lit faces: 0.26-0.32; unlit clips with noise, drift and shake: 0.002-0.017).
MIN_RESPONSE = 0.02


@dataclass(frozen=True)
class FlashSegment:
    colour: str
    start_ms: int
    end_ms: int


@dataclass(frozen=True)
class FlashChallenge:
    segments: tuple[FlashSegment, ...]

    @property
    def duration_ms(self) -> int:
        return self.segments[-1].end_ms

    def colour_at(self, t_ms: float) -> str | None:
        for segment in self.segments:
            if segment.start_ms <= t_ms < segment.end_ms:
                return segment.colour
        return None

    def as_dict(self) -> dict:
        return {"segments": [[s.colour, s.start_ms, s.end_ms] for s in self.segments]}


def flash_challenge_new(rng: np.random.Generator, *, count: int = 6, min_ms: int = 350,
                        max_ms: int = 650) -> FlashChallenge:
    """A seeded challenge (simulations, tests) from the one generator the web also uses
    (ml/jobs.py flash_sequence_new, there with `secrets`)."""
    sequence = flash_sequence_new(lambda n: int(rng.integers(n)), count=count, min_ms=min_ms,
                                  max_ms=max_ms)
    return FlashChallenge(tuple(FlashSegment(c, s, e) for c, s, e in sequence.colours))


@dataclass(frozen=True)
class FlashResult:
    passed: bool
    reason: str               # "PASS", "NO_FACE", "NO_RESPONSE", "WRONG_SEQUENCE", "LATE"
    correlation: float        # at the best lag
    lag_ms: float
    segments_agreeing: float  # share of segments whose shift points toward their colour
    response: float           # spread of the observed signal
    details: dict = field(default_factory=dict)


def _log_chroma(rgb_mean: np.ndarray) -> np.ndarray:
    rgb = np.maximum(np.asarray(rgb_mean, dtype=np.float64), 1.0)
    return np.stack([np.log(rgb[..., 0] / rgb[..., 1]), np.log(rgb[..., 2] / rgb[..., 1])],
                    axis=-1)


def face_region_means(frames: Sequence[np.ndarray], box: tuple[float, ...]) -> np.ndarray | None:
    """Mean RGB of the inner face box (its central 60 %, clear of hair and background), kept
    inside the frame: a face cut by the frame's edge (MTCNN's box then runs past it) is judged on
    the part that is in the picture. None when none of it is."""
    x1, y1, x2, y2 = box
    w, h = x2 - x1, y2 - y1
    height, width = frames[0].shape[:2]
    left, top = max(0, int(x1 + 0.2 * w)), max(0, int(y1 + 0.2 * h))
    right, bottom = min(width, int(x2 - 0.2 * w)), min(height, int(y2 - 0.2 * h))
    if right <= left or bottom <= top:
        return None
    import cv2

    # OpenCV's sum of the region is exact (whole numbers in doubles), as numpy's mean is
    # before its division: the same means, ~15x faster than numpy's reduction over a
    # strided slice (a flash clip's ~50 frames cost ~35 ms that way)
    pixels = (bottom - top) * (right - left)
    return np.array([cv2.sumElems(f[top:bottom, left:right])[:3] for f in frames]) / pixels


def analyse_flash(frames: Sequence[np.ndarray], timestamps_ms: list[float],
                  challenge: FlashChallenge, *, box: tuple[float, ...] | None = None,
                  detector=None) -> FlashResult:
    """Judges a flash clip against its challenge (see the module docstring)."""
    if box is None:
        if detector is None:
            from .pipeline import perception

            detector = perception().detector
        faces = detector.detect(frames[0])
        if not faces:
            return FlashResult(False, "NO_FACE", 0.0, 0.0, 0.0, 0.0)
        box = faces[0].box
    times = np.asarray(timestamps_ms, dtype=np.float64) - timestamps_ms[0]
    means = face_region_means(frames, box)
    if means is None:
        return FlashResult(False, "NO_FACE", 0.0, 0.0, 0.0, 0.0)
    observed = _log_chroma(means)
    observed -= observed.mean(axis=0)
    # The observed trace (time from the clip's start, log R/G, log B/G, the clip's mean
    # removed), kept so that a reviewer can see the face follow, or not follow, the colours.
    trace = [[round(float(t), 1), round(float(r), 4), round(float(b), 4)]
             for t, (r, b) in zip(times, observed, strict=True)]
    response = float(np.sqrt((observed ** 2).sum(axis=1).mean()))
    if response < MIN_RESPONSE:
        return FlashResult(False, "NO_RESPONSE", 0.0, 0.0, 0.0, round(response, 5),
                           {"trace": trace})

    palette_chroma = {name: _log_chroma(np.array(rgb)) for name, rgb in PALETTE.items()}
    challenge_mean = np.mean([palette_chroma[s.colour] for s in challenge.segments], axis=0)

    def expected_at(t: np.ndarray) -> np.ndarray:
        out = np.zeros((len(t), 2))
        for i, value in enumerate(t):
            colour = challenge.colour_at(value)
            if colour is not None:
                out[i] = palette_chroma[colour] - challenge_mean
        return out

    best_lag, best_corr = 0.0, -1.0
    for lag in np.arange(0, MAX_LAG_MS + 1, 20.0):
        expected = expected_at(times - lag)
        valid = (times - lag >= 0) & (times - lag < challenge.duration_ms)
        if valid.sum() < 0.5 * len(times):
            continue
        o, e = observed[valid] - observed[valid].mean(axis=0), expected[valid]
        denominator = np.sqrt((o ** 2).sum() * (e ** 2).sum())
        corr = float((o * e).sum() / denominator) if denominator > 0 else 0.0
        if corr > best_corr:
            best_lag, best_corr = float(lag), corr

    agreeing = []
    for segment in challenge.segments:
        inside = (times - best_lag >= segment.start_ms) & (times - best_lag < segment.end_ms)
        if inside.sum() == 0:
            continue
        shift = observed[inside].mean(axis=0)
        direction = palette_chroma[segment.colour] - challenge_mean
        agreeing.append(float(shift @ direction) > 0)
    share = float(np.mean(agreeing)) if agreeing else 0.0

    details = {"frames": len(frames), "duration_ms": float(times[-1]), "trace": trace}
    if best_corr < MIN_CORRELATION or share < MIN_SEGMENTS_AGREEING:
        reason = "WRONG_SEQUENCE"
    elif best_lag > LAG_TOLERANCE_MS:
        reason = "LATE"
    else:
        reason = "PASS"
    return FlashResult(reason == "PASS", reason, round(best_corr, 3), best_lag, round(share, 3),
                       round(response, 5), details)
