"""Passive anti-spoofing members trained by their authors on real presentation attacks.

Four families, each committed under ml/weights/<family>/ with its licence and a notice of its
source (docs/MODELS.md). Every member scores one face of an upright RGB picture (`ml.image.load_rgb`
turns phone pictures upright by their EXIF orientation first) given the face box of *our*
detector (MTCNN, x1 y1 x2 y2), and applies its authors' own crop rule, colour order,
normalisation and decision rule, as read from their code:

| member | crop | input | decision |
|---|---|---|---|
| silent_face | 2.7x and 4x the box, scale shrunk to fit, moved inside | 80x80 BGR 0..255 | arg-max of the two models' summed softmax is class 1 |
| celeba_spoof | square 1.5x the box's larger side, reflected outside the picture | 128x128 RGB /255 | logit(real) - logit(spoof) >= 0 |
| hyperfas | square of half-side 0.6x the larger side, clipped to the picture | 224x224 BGR (x-127.5)/127.5 | p(live) > 0.95 |
| dtn | the box made square, its overflowing corner moved inward on both axes | 256x256 RGB /255 | leaf score < 0.2 |

Each answers a `MemberScore`: its native score, its authors' threshold and verdict, the margin
(log-odds of live relative to that threshold: positive means live by the authors' rule), and the
share of the context its crop wanted that the picture could give (tight face crops give less).
The fusion of the members is a separate decision; this module only reproduces each family.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .device import library_threads, onnx_session_options
from .silent_face import SilentFaceModel, crop_context

MEMBERS = ("silent_face", "celeba_spoof", "hyperfas", "dtn")


@dataclass(frozen=True)
class MemberScore:
    member: str
    score: float        # the family's own number (dtn: its attack score; the others: P(live))
    threshold: float    # the authors' threshold on `score`
    live: bool          # the authors' verdict
    margin: float       # log-odds of live relative to the authors' threshold (> 0: live)
    context: float      # share of the wanted crop context the picture holds (1.0: all)

    def as_dict(self) -> dict:
        return {"score": round(self.score, 6), "threshold": self.threshold, "live": self.live,
                "margin": round(self.margin, 4), "context": round(self.context, 4)}


def _logit(p: float) -> float:
    p = min(max(p, 1e-7), 1 - 1e-7)
    return math.log(p / (1 - p))


def _onnx_session(path: Path):
    import onnxruntime

    return onnxruntime.InferenceSession(str(path), onnx_session_options(),
                                        providers=["CPUExecutionProvider"])


def _square_context(box, side: float, picture_size: tuple[int, int]) -> float:
    """Share of a square of `side` around the box centre that lies inside the picture."""
    width, height = picture_size
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    inside_w = max(0.0, min(width, cx + side / 2) - max(0.0, cx - side / 2))
    inside_h = max(0.0, min(height, cy + side / 2) - max(0.0, cy - side / 2))
    return inside_w * inside_h / (side * side)


class SilentFaceMember:
    """minivision-ai's MiniFASNetV2 (2.7x crop) + MiniFASNetV1SE (4x crop), Apache-2.0."""

    name = "silent_face"
    threshold = 0.5  # not a probability cut: class 1 must beat each attack class (arg-max)

    def __init__(self, models: list[SilentFaceModel]):
        self.models = models

    @classmethod
    def load(cls, paths: list[Path] | None = None) -> "SilentFaceMember":
        from .weights import weight_path

        paths = paths or [weight_path("silent_face_v2"), weight_path("silent_face_v1se")]
        return cls([SilentFaceModel.load(p) for p in paths])

    def probabilities(self, rgb: np.ndarray, box) -> np.ndarray:
        return np.mean([m.probabilities(rgb, box) for m in self.models], axis=0)

    def score(self, rgb: np.ndarray, box) -> MemberScore:
        mean = self.probabilities(rgb, box)
        live_p, attack_p = float(mean[1]), float(max(mean[0], mean[2]))
        margin = math.log(max(live_p, 1e-9) / max(attack_p, 1e-9))
        size = (rgb.shape[1], rgb.shape[0])
        # the 4x crop rarely fits a selfie even in the authors' samples (0.54-0.65): the
        # context that matters is the least demanding model's (2.7x)
        context = max(crop_context(box, size, m.crop) for m in self.models)
        return MemberScore(self.name, live_p, self.threshold, int(np.argmax(mean)) == 1, margin,
                           context)


class _OnnxMember:
    """A member whose network runs in onnxruntime, loaded from the weight file `name`."""

    name = ""

    def __init__(self, path: Path):
        self.session = _onnx_session(path)
        self.input_name = self.session.get_inputs()[0].name

    @classmethod
    def load(cls, path: Path | None = None):
        from .weights import weight_path

        return cls(path or weight_path(cls.name))

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]


class CelebASpoofMember(_OnnxMember):
    """MiniFASNetV2-SE trained on CelebA-Spoof (VietAnh954/face-antispoof-onnx), Apache-2.0."""

    name = "celeba_spoof"
    threshold = 0.5
    INPUT = 128
    SCALE = 1.5

    def crop(self, rgb: np.ndarray, box) -> np.ndarray:
        import cv2

        x1, y1, x2, y2 = box
        longer = max(x2 - x1, y2 - y1)
        cx, cy = x1 + (x2 - x1) / 2, y1 + (y2 - y1) / 2
        left, top = int(cx - self.SCALE * longer / 2), int(cy - self.SCALE * longer / 2)
        side = int(self.SCALE * longer)
        height, width = rgb.shape[:2]
        pad = max(0, -left, -top, left + side - width, top + side - height)
        if pad:
            rgb = cv2.copyMakeBorder(rgb, pad, pad, pad, pad, cv2.BORDER_REFLECT_101)
        crop = rgb[top + pad:top + pad + side, left + pad:left + pad + side]
        # the authors enlarge with Lanczos and shrink with area averaging
        interpolation = cv2.INTER_LANCZOS4 if side < self.INPUT else cv2.INTER_AREA
        return cv2.resize(crop, (self.INPUT, self.INPUT), interpolation=interpolation)

    def score(self, rgb: np.ndarray, box) -> MemberScore:
        crop = self.crop(rgb, box).astype(np.float32) / 255.0
        logits = self.run(crop.transpose(2, 0, 1)[None])[0]
        margin = float(logits[0] - logits[1])
        x1, y1, x2, y2 = box
        context = _square_context(box, self.SCALE * max(x2 - x1, y2 - y1),
                                  (rgb.shape[1], rgb.shape[0]))
        return MemberScore(self.name, 1 / (1 + math.exp(-margin)), self.threshold, margin >= 0,
                           margin, context)


class HyperFASMember(_OnnxMember):
    """zeusees/HyperFAS (MobileNet 0.5, one sigmoid), BSD-3-Clause; ONNX of the authors' Keras
    file."""

    name = "hyperfas"
    threshold = 0.95
    INPUT = 224
    HALF_SIDE = 0.6

    def crop(self, rgb: np.ndarray, box) -> np.ndarray:
        import cv2

        x1, y1, x2, y2 = box
        half = self.HALF_SIDE * max(x2 - x1, y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        height, width = rgb.shape[:2]
        # clipped, not padded: near an edge the crop is no longer square and is stretched
        left, top = max(0, int(cx - half)), max(0, int(cy - half))
        right, bottom = min(width, int(cx + half)), min(height, int(cy + half))
        return cv2.resize(rgb[top:bottom, left:right, ::-1], (self.INPUT, self.INPUT))

    def score(self, rgb: np.ndarray, box) -> MemberScore:
        crop = (self.crop(rgb, box).astype(np.float32) - 127.5) / 127.5
        live_p = float(self.run(crop[None])[0, 0])
        x1, y1, x2, y2 = box
        context = _square_context(box, 2 * self.HALF_SIDE * max(x2 - x1, y2 - y1),
                                  (rgb.shape[1], rgb.shape[0]))
        return MemberScore(self.name, live_p, self.threshold, live_p > self.threshold,
                           _logit(live_p) - _logit(self.threshold), context)


class DTNMember:
    """A Deep Tree Network for print and replay (syaringan357's Android app), MIT; LiteRT."""

    name = "dtn"
    threshold = 0.2  # attack when the leaf score reaches it
    INPUT = 256

    def __init__(self, path: Path):
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=library_threads())
        self.interpreter.allocate_tensors()
        self.input_index = self.interpreter.get_input_details()[0]["index"]
        outputs = {d["name"]: d["index"] for d in self.interpreter.get_output_details()}
        self.leaf_scores, self.leaf_mask = outputs["Identity"], outputs["Identity_1"]

    @classmethod
    def load(cls, path: Path | None = None) -> "DTNMember":
        from .weights import weight_path

        return cls(path or weight_path("dtn"))

    @staticmethod
    def square_box(box, picture_size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The author's square (inclusive corners): the shorter side grown about the centre,
        then a corner that leaves the picture moved inward by the same amount on both axes."""
        width, height = picture_size
        x1, y1, x2, y2 = (int(v) for v in box)
        w, h = x2 - x1 + 1, y2 - y1 + 1
        if w > h:
            y1, y2 = y1 - (w - h) // 2, y2 + (w - h + 1) // 2
        else:
            x1, x2 = x1 - (h - w) // 2, x2 + (h - w + 1) // 2
        if x1 < 0 or y1 < 0:
            shift = max(-x1, -y1)
            x1, y1 = x1 + shift, y1 + shift
        if x2 >= width or y2 >= height:
            shift = max(x2 - width + 1, y2 - height + 1)
            x2, y2 = x2 - shift, y2 - shift
        return x1, y1, x2, y2

    def crop(self, rgb: np.ndarray, box) -> np.ndarray:
        import cv2

        x1, y1, x2, y2 = self.square_box(box, (rgb.shape[1], rgb.shape[0]))
        return cv2.resize(rgb[y1:y2 + 1, x1:x2 + 1], (self.INPUT, self.INPUT),
                          interpolation=cv2.INTER_LINEAR)

    def score(self, rgb: np.ndarray, box) -> MemberScore:
        crop = self.crop(rgb, box).astype(np.float32) / 255.0
        self.interpreter.set_tensor(self.input_index, crop[None])
        self.interpreter.invoke()
        leaves = self.interpreter.get_tensor(self.leaf_scores)[0]
        mask = self.interpreter.get_tensor(self.leaf_mask)[0]
        attack = float(np.sum(np.abs(leaves) * mask))
        x1, y1, x2, y2 = self.square_box(box, (rgb.shape[1], rgb.shape[0]))
        wanted = max(box[2] - box[0], box[3] - box[1]) + 1
        context = min(1.0, (x2 - x1 + 1) / wanted)
        margin = math.log(self.threshold) - math.log(max(attack, 1e-6))
        return MemberScore(self.name, attack, self.threshold, attack < self.threshold, margin,
                           context)


LOADERS: dict[str, type[SilentFaceMember | _OnnxMember | DTNMember]] = {
    "silent_face": SilentFaceMember, "celeba_spoof": CelebASpoofMember, "hyperfas": HyperFASMember, "dtn": DTNMember}


def load_members(names=MEMBERS) -> dict:
    """Every named member, from the committed, checksum-verified weights."""
    return {name: LOADERS[name].load() for name in names}


def main(argv=None) -> None:
    """Prints every member's score for the largest face of each picture (our MTCNN box)."""
    import argparse
    import json

    from .detection import FaceDetector
    from .image import load_rgb

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("pictures", nargs="+", type=Path)
    args = parser.parse_args(argv)
    detector, members = FaceDetector(), load_members()
    for path in args.pictures:
        rgb = load_rgb(path)
        faces = detector.detect(rgb)
        if not faces:
            print(f"{path}: no face")
            continue
        scores = {n: m.score(rgb, faces[0].box).as_dict() for n, m in members.items()}
        print(f"{path}: {json.dumps(scores)}")


if __name__ == "__main__":
    main()
