"""Our own passive member: a MiniFASNet of the Silent-Face format fine-tuned on simulator data.

It lives beside the Silent-Face loader it borrows the network and crop from (ml/silent_face.py),
not in ml/pad.py (the project's first, simulator-only model), so that imports point one way:
this module -> silent_face -> pad_score.
"""

import math
from pathlib import Path

import numpy as np

from .pad_members import MemberScore
from .pad_score import PadScore, pad_scores
from .silent_face import CropSpec, authors_patch, inference_network
from .silent_face import build_network as build_minifas

FINETUNED_FORMAT = "liveness-pad-minifas/1"
# Crop modes of a checkpoint: "context" is the authors' rule (the box grown 2.7x, resized to
# the input); "texture" is TEXTURE_PATCHES windows of the input's size cut from the face's inner
# region at the camera's own resolution, never shrunk (texture_patches).
CROP_MODES = ("context", "texture")
# The inner region: the middle of the box (eyes, nose, mouth, cheeks), away from hair and
# background, whose texture is the face's own and not the scene's.
TEXTURE_REGION = 0.6
TEXTURE_PATCHES = 5


def texture_region(box, picture_size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The middle TEXTURE_REGION of the box, inside the picture: (left, top, right, bottom),
    right and bottom exclusive."""
    width, height = picture_size
    x1, y1, x2, y2 = (float(v) for v in box)
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = (x2 - x1) * TEXTURE_REGION / 2, (y2 - y1) * TEXTURE_REGION / 2
    left, top = max(0, int(round(cx - half_w))), max(0, int(round(cy - half_h)))
    right, bottom = min(width, int(round(cx + half_w))), min(height, int(round(cy + half_h)))
    if right - left < 2 or bottom - top < 2:
        raise ValueError(f"face box {box} has no inner region inside a {width}x{height} picture")
    return left, top, right, bottom


def texture_patches(rgb: np.ndarray, box, size: int, *, count: int = TEXTURE_PATCHES,
                    rng: np.random.Generator | None = None) -> list[np.ndarray]:
    """Windows of `size` px of the face's inner region at the picture's own resolution: print
    dots, paper grain, a screen's pixel grid and moire are a few camera pixels wide, and the
    authors' 2.7x crop shrunk to 80 px averages them away. A region smaller than `size` is
    one window, enlarged (a small face's texture is already at the camera's limit). Without
    `rng`: the region's four corners and centre (every call the same windows); with it,
    `count` windows at random places (training)."""
    import cv2

    left, top, right, bottom = texture_region(box, (rgb.shape[1], rgb.shape[0]))
    region = rgb[top:bottom, left:right]
    height, width = region.shape[:2]
    if height < size or width < size:
        return [cv2.resize(region, (size, size), interpolation=cv2.INTER_LINEAR)]
    if rng is None:
        corners = [(0, 0), (width - size, 0), (0, height - size), (width - size, height - size),
                   ((width - size) // 2, (height - size) // 2)][:count]
    else:
        corners = [(int(rng.integers(width - size + 1)), int(rng.integers(height - size + 1)))
                   for _ in range(count)]
    return [np.ascontiguousarray(region[y:y + size, x:x + size]) for x, y in corners]


class FinetunedPadModel:
    """Our own member since issue 20: a MiniFASNet of the Silent-Face format, fine-tuned from the
    authors' real-trained weights on simulator data (ml/finetune_pad.py), with our classes. It
    sees what the authors' network sees: their crop rule on our box, BGR 0..255.

    Checkpoint: {"format": FINETUNED_FORMAT, "variant", "classes", "crop": {"scale", "height",
    "width", "mode"}, "state_dict", "recipe"}, read with weights_only. `mode` (CROP_MODES,
    "context" when absent) says what the network is fed: the authors' crop, or texture windows
    whose probabilities are averaged."""

    def __init__(self, network, variant: str, classes: tuple[str, ...], crop,
                 mode: str = "context"):
        if mode not in CROP_MODES:
            raise ValueError(f"crop mode {mode!r}: one of {CROP_MODES}")
        self.network, self.variant, self.classes, self.crop_spec, self.mode = (
            network.eval(), variant, classes, crop, mode)
        # one crop a face runs in onnxruntime, a texture model's windows in torch
        # (faster for that many: silent_face.inference_network)
        self._inference = inference_network(
            self.network, (self.crop_spec.height, self.crop_spec.width),
            onnx=mode != "texture")

    @classmethod
    def load(cls, path: str | Path) -> "FinetunedPadModel":
        import torch

        try:
            checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{path} is not a {FINETUNED_FORMAT} checkpoint: {exc}") from exc
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != FINETUNED_FORMAT:
            raise ValueError(f"{path} is not a {FINETUNED_FORMAT} checkpoint")
        crop = CropSpec(checkpoint["crop"]["height"], checkpoint["crop"]["width"],
                        checkpoint["crop"]["scale"])
        network = build_minifas(checkpoint["variant"], input_size=(crop.height, crop.width),
                                classes=len(checkpoint["classes"]))
        network.load_state_dict(checkpoint["state_dict"])
        return cls(network, checkpoint["variant"], tuple(checkpoint["classes"]), crop,
                   checkpoint["crop"].get("mode", "context"))

    def crop(self, rgb: np.ndarray, box) -> np.ndarray:
        """The authors' crop of the face, as BGR uint8 (what a context model is fed)."""
        return np.ascontiguousarray(authors_patch(rgb, box, self.crop_spec)[:, :, ::-1])

    def crops(self, rgb: np.ndarray, box) -> list[np.ndarray]:
        """What the network is fed for one face, BGR uint8: one crop, or the texture windows."""
        if self.mode == "texture":
            return [np.ascontiguousarray(p[:, :, ::-1])
                    for p in texture_patches(rgb, box, self.crop_spec.height)]
        return [self.crop(rgb, box)]

    def probabilities(self, crops_bgr: list[np.ndarray]) -> np.ndarray:
        """Softmax over the classes, one row per crop."""
        import torch

        batch = torch.from_numpy(np.stack(crops_bgr).astype(np.float32)).permute(0, 3, 1, 2)
        with torch.inference_mode():
            return torch.softmax(self._inference(batch), dim=1).numpy()

    def score_crops(self, crops_bgr: list[np.ndarray]) -> list[PadScore]:
        return pad_scores(self.classes, self.probabilities(crops_bgr))

    def score(self, rgb: np.ndarray, box) -> PadScore:
        """One face; a texture model's windows are averaged (one face, one answer)."""
        return self.score_many([(rgb, box)])[0]

    def score_many(self, faces: list[tuple[np.ndarray, tuple]]) -> list[PadScore]:
        """`score` of several (picture, box) pairs, the network run once over all their crops
        (a still burst's judged frames: ~40 % less time than one at a time on this CPU, the
        same probabilities to 1e-7)."""
        if not faces:
            return []
        crops = [self.crops(rgb, box) for rgb, box in faces]
        probabilities = self.probabilities([c for face in crops for c in face])
        ends = np.cumsum([len(face) for face in crops])
        return [pad_scores(self.classes, rows.mean(axis=0, keepdims=True))[0]
                for rows in np.split(probabilities, ends[:-1])]


# The species the texture member speaks for: a recapture medium's own surface (print dots,
# paper grain, a screen's pixel grid) is physical, and the windows see it. The simulator's
# mask and blend species are not a medium's texture but its rendering (smoothed, blended
# skin), and a real webcam's noise reduction makes the same smooth skin: trained on all five
# classes, the member called the authors' live sample T1 "blend" (0.85 in one window).
TEXTURE_SPECIES = ("print", "replay")


class TextureMember:
    """Our texture member (ml/weights/pad_texture.pt): a FinetunedPadModel in "texture" mode,
    answering like the real-trained members (ml/pad_members.py MemberScore) so the decision
    weighs its margin beside theirs. Its score is P(live) against TEXTURE_SPECIES only (the
    windows' probabilities averaged, then live / (live + print + replay)); its threshold is 0.5;
    it needs no context around the face (a tight crop has the whole inner region), so its
    context is always 1."""

    name = "texture"

    def __init__(self, model: FinetunedPadModel):
        if model.mode != "texture":
            raise ValueError(f"the texture member needs a texture-mode checkpoint, not {model.mode!r}")
        self.model = model

    @classmethod
    def load(cls, path: str | Path) -> "TextureMember":
        return cls(FinetunedPadModel.load(path))

    @staticmethod
    def _live(probabilities: dict) -> float:
        against = sum(probabilities[species] for species in TEXTURE_SPECIES)
        return probabilities["live"] / max(probabilities["live"] + against, 1e-12)

    def score(self, rgb: np.ndarray, box) -> MemberScore:
        return self.score_many([(rgb, box)])[0]

    def score_many(self, faces: list[tuple[np.ndarray, tuple]]) -> list[MemberScore]:
        scores = []
        for pad in self.model.score_many(faces):
            live = self._live(pad.probabilities)
            clipped = min(max(live, 1e-7), 1 - 1e-7)
            scores.append(MemberScore(self.name, live, 0.5, live >= 0.5,
                                      math.log(clipped / (1 - clipped)), 1.0))
        return scores
