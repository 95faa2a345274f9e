"""Still-image presentation attacks from a live portrait, each labelled with its species.

For the passive anti-spoofing model's training and evaluation sets. Every function takes the
live frame (RGB uint8), the face box and a seeded generator, and returns a frame of the same
size that a camera would capture of the attack:
- print: the photo printed (halftone dots, paper grain, faded colours, a glare spot, a slight
  bend) and photographed at an angle, with the paper's edge in view;
- replay: the photo shown on a screen (RGB sub-pixel grid resampled by the camera, which gives
  moiré; gamma and a blue shift; refresh bands; a reflection; the bezel in view);
- mask: a printed face cut out along its outline and held over another scene;
- blend: a synthetic-looking face: a 50/50 morph with another face, over-smoothed.
Limits: textures are modelled, not measured from real attacks (docs/LIVENESS.md).
"""

from collections.abc import Callable

import cv2
import numpy as np

SPECIES = ("live", "print", "replay", "mask", "blend")


def _camera(frame: np.ndarray, rng: np.random.Generator, noise: float = 2.0) -> np.ndarray:
    out = frame.astype(np.float32) + rng.normal(0.0, noise, frame.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


def _tilted(image: np.ndarray, rng: np.random.Generator, background: np.ndarray,
            border: tuple[int, int, int], max_shift: float) -> np.ndarray:
    """The flat object (with a border) seen at an angle in front of `background`."""
    height, width = image.shape[:2]
    framed = cv2.copyMakeBorder(image, 12, 12, 12, 12, cv2.BORDER_CONSTANT, value=border)
    corners = np.array([[0, 0], [width + 24, 0], [width + 24, height + 24], [0, height + 24]],
                       np.float32)
    jitter = rng.uniform(-max_shift, max_shift, (4, 2)).astype(np.float32)
    target = np.array([[-6, -6], [width + 6, -6], [width + 6, height + 6], [-6, height + 6]],
                      np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target + jitter * np.array([width, height], np.float32))
    mask = cv2.warpPerspective(np.ones(framed.shape[:2], np.uint8), matrix, (width, height))
    warped = cv2.warpPerspective(framed, matrix, (width, height))
    return np.where(mask[..., None] > 0, warped, background)


def print_attack(frame: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    height, width = frame.shape[:2]
    image = frame.astype(np.float32)
    grey = image.mean(axis=2, keepdims=True)
    image = grey + (image - grey) * rng.uniform(0.6, 0.8)           # faded ink
    image = 255.0 * (image / 255.0) ** rng.uniform(0.8, 0.95) * 0.92 + 12
    period = int(rng.integers(3, 5))                                  # halftone dot screen
    yy, xx = np.mgrid[0:height, 0:width]
    dots = (np.cos(2 * np.pi * xx / period) * np.cos(2 * np.pi * yy / period) + 1) / 2
    image *= (0.82 + 0.18 * dots)[..., None]
    grain = cv2.GaussianBlur(rng.normal(0, 1, (height, width)).astype(np.float32), (0, 0), 1.5)
    image += (grain * 6.0)[..., None]
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    glare = np.exp(-(((xx - cx) / (0.18 * width)) ** 2 + ((yy - cy) / (0.12 * height)) ** 2))
    image += (glare * rng.uniform(40, 90))[..., None]
    bend = rng.uniform(-0.03, 0.03) * width                           # the paper curves
    map_x = (xx + bend * np.sin(np.pi * yy / height)).astype(np.float32)
    image = cv2.remap(np.clip(image, 0, 255).astype(np.uint8), map_x, yy.astype(np.float32),
                      cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    image = cv2.GaussianBlur(image, (0, 0), 0.7)
    background = np.full_like(frame, int(rng.integers(60, 140)))
    return _camera(_tilted(image, rng, background, (235, 235, 228), 0.04), rng)


def replay_attack(frame: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    height, width = frame.shape[:2]
    image = frame.astype(np.float32) / 255.0
    image = image ** rng.uniform(1.1, 1.4)                            # screen gamma
    image *= np.array([0.9, 0.96, 1.08], np.float32)                  # cold, blue-ish white
    pitch = rng.uniform(2.6, 3.4)                                     # sub-pixel stripes seen
    angle = rng.uniform(-0.08, 0.08)                                  # slightly off-axis: moiré
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u = (xx * np.cos(angle) + yy * np.sin(angle)) / pitch
    grid = np.stack([(np.cos(2 * np.pi * (u - k / 3)) + 1) / 2 for k in range(3)], axis=-1)
    image *= 0.55 + 0.45 * grid
    bands = 1.0 + 0.06 * np.sin(2 * np.pi * yy / rng.uniform(40, 90) + rng.uniform(0, 6.3))
    image *= bands[..., None]
    reflection = np.clip(1 - np.abs(xx / width - rng.uniform(0.3, 0.7)) * 6, 0, 1) * 0.12
    image += reflection[..., None]
    image = np.clip(image * 255.0, 0, 255).astype(np.uint8)
    background = np.full_like(frame, int(rng.integers(30, 90)))
    return _camera(_tilted(image, rng, background, (12, 12, 14), 0.03), rng)


def mask_attack(frame: np.ndarray, box, rng: np.random.Generator,
                scene: np.ndarray | None = None) -> np.ndarray:
    """A printed face cut out along an ellipse around the face, held over another scene."""
    height, width = frame.shape[:2]
    printed = print_attack(frame, box, rng) if scene is None else frame
    x1, y1, x2, y2 = box
    mask = np.zeros((height, width), np.uint8)
    cv2.ellipse(mask, (int((x1 + x2) / 2), int((y1 + y2) / 2)),
                (int((x2 - x1) * 0.62), int((y2 - y1) * 0.72)), 0, 0, 360, (1,), -1)
    if scene is None:
        scene = cv2.GaussianBlur(np.roll(frame, width // 2, axis=1), (0, 0), 6)
    shadow = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), 6)[..., None]
    backdrop = (scene.astype(np.float32) * (1 - 0.35 * shadow)).astype(np.uint8)
    cutout = np.where(mask[..., None] > 0, printed, backdrop)
    return _camera(cutout, rng)


def blend_attack(frame: np.ndarray, box, rng: np.random.Generator,
                 other: np.ndarray | None = None) -> np.ndarray:
    """A morph with another face (aligned by the frame), over-smoothed like a synthetic image."""
    other = cv2.flip(frame, 1) if other is None else cv2.resize(other, frame.shape[1::-1])
    morph = cv2.addWeighted(frame, 0.5, other, 0.5, 0)
    for _ in range(int(rng.integers(2, 4))):
        morph = cv2.bilateralFilter(morph, 9, 60, 9)
    return _camera(morph, rng, noise=0.8)


def render_attack(species: str, frame: np.ndarray, box, *, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if species == "live":
        return _camera(frame, rng)
    attacks: dict[str, Callable[..., np.ndarray]] = {"print": print_attack, "replay": replay_attack, "mask": mask_attack,
               "blend": blend_attack}
    if species not in attacks:
        raise ValueError(f"unknown species {species!r}; one of {SPECIES}")
    return attacks[species](frame, box, rng)
