"""One perception pipeline per process: detector + quality + embedder, built on first use."""

import os
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from .attributes import AttributeModels, Attributes
from .detection import Detection, Face, FaceDetector
from .embedding import SFaceEmbedder
from .occlusion import occlusion_of
from .quality import Quality, face_quality
from .similarity import Comparison, comparison_of


@dataclass(frozen=True)
class AnalyzedFace:
    face: Face
    quality: Quality
    embedding: np.ndarray | None = None
    attributes: Attributes | None = None
    occlusion: dict[str, float] | None = None

    def as_dict(self) -> dict:
        out = {**self.face.as_dict(), "quality": self.quality.as_dict()}
        if self.occlusion is not None:
            out["quality"]["occlusion"] = self.occlusion
        if self.attributes is not None:
            out["attributes"] = self.attributes.as_dict()
        return out


@dataclass(frozen=True)
class Analysis:
    detection: Detection
    faces: list[AnalyzedFace]

    @property
    def largest(self) -> AnalyzedFace | None:
        return self.faces[0] if self.faces else None

    def as_dict(self) -> dict:
        return {"rotation": self.detection.rotation,
                "image_size": list(self.detection.image.shape[1::-1]),
                "faces": [f.as_dict() for f in self.faces]}


class Perception:
    def __init__(self, embedder=None):
        self.detector = FaceDetector()
        self.embedder = embedder if embedder is not None else SFaceEmbedder()

    @cached_property
    def pad(self):
        """The passive anti-spoofing decision: by default the calibrated fusion of the
        real-trained members and our own model (ml/pad_fusion.py); with PAD_MODEL_PATH set, that
        one model alone (a checkpoint of ours, a Silent-Face `.pth` or a folder of them)."""
        path = os.environ.get("PAD_MODEL_PATH")
        if path:
            from .pad_models import pad_model_load

            return pad_model_load(path)
        from .pad_fusion import PassiveDecision

        return PassiveDecision.load()

    @cached_property
    def proposer(self):
        """YuNet's candidate boxes for `analyze(proposed=True)` (ml/detection.py)."""
        from .detection import FaceProposer

        return FaceProposer()

    @cached_property
    def mesher(self):
        """FaceMesh (478 landmarks): action liveness, eyes-closed checks, face shape."""
        from .mesh import FaceMesher

        return FaceMesher()

    @cached_property
    def attribute_models(self) -> AttributeModels:
        """Loaded on first use: only the single-image attribute API needs them."""
        return AttributeModels(mesher=self.mesher)

    def warm(self) -> dict[str, float]:
        """Runs every model once on a generated picture (mid-grey, a face-sized box in it), so
        that what a model builds on its first call is built before a worker takes its first
        task, not inside it: FaceMesh starts its graph (~400 ms and ~75 MiB), torch's oneDNN
        and onnxruntime make their kernels. A fresh worker process's first action-clip verify
        took about twice the next ones' time (docs/BENCHMARKS.md, verify; docs/MODELS.md).
        The outputs are dropped; no model keeps anything from one call to the next, so answers
        are unchanged (tests/test_ml_perception.py). Returns each model's warm-up time in ms."""
        grey = np.full((480, 640, 3), 128, np.uint8)
        box = (220.0, 120.0, 420.0, 360.0)
        face = Face(box=box, score=1.0, landmarks=((280.0, 210.0), (360.0, 210.0),
                                                   (320.0, 260.0), (290.0, 310.0),
                                                   (350.0, 310.0)))
        score_many = getattr(self.pad, "score_many", None)
        steps = {
            "detector": lambda: self.detector.detect(grey),
            "confirm": lambda: self.detector.confirm(grey, [box]),
            "proposer": lambda: self.proposer.propose(grey),
            "embedder": lambda: self.embedder.embed(grey, face),
            "mesher": lambda: self.mesher.landmarks(grey, face),
            # the fused decision's veto members too (they judge only some faces)
            "pad": (lambda: score_many([(grey, box)], veto_on=0)) if score_many
            else (lambda: self.pad.score(grey, box)),
            "attributes": lambda: self.attribute_models.attributes(grey, face),
        }
        times = {}
        for name, step in steps.items():
            started = time.perf_counter()
            step()
            times[name] = round((time.perf_counter() - started) * 1000, 1)
        return times

    def analyze(self, rgb: np.ndarray, *, multi_oriented: bool = False,
                embeddings: bool = False, attributes: bool = False,
                proposed: bool = False) -> Analysis:
        """Faces of one picture with their quality (and embeddings, attributes when asked).
        `proposed`: YuNet proposes, MTCNN confirms (FaceDetector.detect_proposed), ~5x cheaper
        than MTCNN's own search; the faces found are the same and their landmarks differ by
        about as much as MTCNN's own differ when the picture moves by 3 px (docs/MODELS.md)."""
        detection = self.detector.detect_oriented(
            rgb, multi_oriented=multi_oriented,
            proposer=self.proposer if proposed else None)
        image = detection.image
        faces = [
            AnalyzedFace(
                face=face,
                quality=face_quality(image, face),
                embedding=self.embedder.embed(image, face) if embeddings else None,
                attributes=self.attribute_models.attributes(image, face) if attributes else None,
                occlusion=occlusion_of(image, face) if attributes else None,
            )
            for face in detection.faces
        ]
        return Analysis(detection=detection, faces=faces)

    def analyze_frames(self, frames: list[np.ndarray], *,
                       proposed: bool = False) -> list[Analysis]:
        """`analyze` of a capture's upright frames: detected as one batch (detect_many), or
        with `proposed` frame by frame by YuNet and MTCNN's confirming stages (`analyze`)."""
        if proposed:
            found = [self.detector.detect_proposed(rgb, self.proposer) for rgb in frames]
        else:
            found = self.detector.detect_many(frames)
        return [Analysis(detection=Detection(faces=faces, rotation=0, image=rgb),
                         faces=[AnalyzedFace(face=face, quality=face_quality(rgb, face))
                                for face in faces])
                for rgb, faces in zip(frames, found, strict=True)]

    def compare(self, rgb_a: np.ndarray, rgb_b: np.ndarray, *,
                multi_oriented: bool = False) -> Comparison | None:
        """Compares the largest faces of two images; None when either has no face."""
        vectors = []
        for rgb in (rgb_a, rgb_b):
            detection = self.detector.detect_oriented(rgb, multi_oriented=multi_oriented)
            if detection.largest is None:
                return None
            vectors.append(self.embedder.embed(detection.image, detection.largest))
        return comparison_of(vectors[0], vectors[1], model=self.embedder.name)


@lru_cache(maxsize=1)
def perception() -> Perception:
    """The process's pipeline (workers warm it in worker_process_init)."""
    return Perception()
