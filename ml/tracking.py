"""A face followed through a clip: detected once, then tracked by FaceMesh (issue 13).

Re-detecting every frame a verify looks at was most of a clip's cost (MTCNN on ten best-frame
candidates, on the first frame for the actions, on every fifth frame for face-replace detection:
17 detections for a 30-frame action clip). Here the detector runs on the clip's first frame
only; FaceMesh, which the action check runs on every frame anyway, reads each frame around where
the face was last seen, and each frame's face (box and the five landmarks the embedder and the
quality score use) is made from its mesh points:

- landmarks: the iris centres (points 468 and 473), the nose tip (mean of points 1 and 4, where
  MTCNN puts it within a few pixels on the offline photos) and the mouth corners (61 and 291);
- box: the mesh's extent mapped onto the detector's box convention by the offsets measured on the
  first frame, where both are known (MTCNN's box reaches higher up the forehead than the mesh);
  when the mesh cannot read the frame the detector saw, on the first frame it reads, against
  MTCNN's confirmation of the face there (the face may have moved in between).

A frame where the mesh finds no face keeps the last known position for the next one (a blink or
a fast turn loses a frame or two, not the track). The detector still decides what it is trusted
for: the first face, and the best frame's face that the passive decision and the comparison use
(their thresholds were calibrated on the detector's boxes).
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .detection import Face

LEFT_IRIS, RIGHT_IRIS = 468, 473          # left / right as seen in the image
NOSE_POINTS = (1, 4)
MOUTH_LEFT, MOUTH_RIGHT = 61, 291
DETECT_TRIES = 3     # frames the detector looks at for the face before the clip has none


@dataclass(frozen=True)
class Track:
    first_faces: tuple[Face, ...]                # the detector's faces on the first frame
    faces: dict[int, Face]                       # frame index -> face made from its mesh
    landmarks: dict[int, np.ndarray]             # frame index -> (478, 3) mesh points

    @property
    def first(self) -> Face:
        return self.first_faces[0]

    def found_share(self, frames: int) -> float:
        return len(self.landmarks) / max(frames, 1)


def _extent(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points[:, :2].min(axis=0), points[:, :2].max(axis=0)])


def _box_offsets(face: Face, points: np.ndarray) -> np.ndarray:
    """The detector's box relative to the mesh's extent, in units of the extent's size."""
    x1, y1, x2, y2 = _extent(points)
    size = np.array([x2 - x1, y2 - y1, x2 - x1, y2 - y1])
    return (np.asarray(face.box) - np.array([x1, y1, x2, y2])) / np.maximum(size, 1e-6)


def face_from_mesh(points: np.ndarray, offsets: np.ndarray, score: float) -> Face:
    x1, y1, x2, y2 = _extent(points)
    size = np.array([x2 - x1, y2 - y1, x2 - x1, y2 - y1])
    bx1, by1, bx2, by2 = (float(v) for v in np.array([x1, y1, x2, y2]) + offsets * size)
    marks = (points[LEFT_IRIS, :2], points[RIGHT_IRIS, :2],
             points[list(NOSE_POINTS), :2].mean(axis=0),
             points[MOUTH_LEFT, :2], points[MOUTH_RIGHT, :2])
    return Face(box=(bx1, by1, bx2, by2), score=score,
                landmarks=tuple((float(x), float(y)) for x, y in marks))


def _detector_face(detector, frames, detected_index: int, index: int, first: Face,
                   points: np.ndarray) -> Face:
    """The detector's face to measure the box offsets against the mesh of frame `index`: the
    one it found when that is the frame it looked at; else (the mesh missed that frame, and the
    face may have moved since) MTCNN's confirmation of the mesh's extent on this frame, falling
    back to the first face when it confirms nothing."""
    if index == detected_index:
        return first
    x1, y1, x2, y2 = (float(v) for v in _extent(points))
    confirmed = detector.confirm(frames[index], [(x1, y1, x2, y2)])
    return confirmed[0] if confirmed else first


def track_faces(frames: Sequence[np.ndarray], indices: list[int], *, detector,
                mesher, proposer=None,
                on_face: Callable[[int, Face], None] | None = None) -> Track | None:
    """The largest face of the first of `indices` where the detector finds one (it tries the
    first DETECT_TRIES), followed through the later indices in order (FaceMesh around the last
    known face). None when the detector finds no face on those. Frames the mesh cannot read are
    absent from the track. With a proposer, the detector confirms its proposals
    (FaceDetector.detect_proposed). `on_face(index, face)` is told of each frame's face as soon
    as it is tracked (the caller may start work on it while the rest is tracked)."""
    found = []
    for tried, index in enumerate(indices[:DETECT_TRIES]):
        found = detector.detect_proposed(frames[index], proposer)
        if found:
            indices = indices[tried:]
            break
    if not found:
        return None
    first = found[0]
    faces: dict[int, Face] = {}
    landmarks: dict[int, np.ndarray] = {}
    last, offsets = first, None
    for index in indices:
        points = mesher.landmarks(frames[index], last)
        if points is None:
            continue
        if offsets is None:
            offsets = _box_offsets(_detector_face(detector, frames, indices[0], index, first,
                                                  points), points)
        face = face_from_mesh(points, offsets, first.score)
        faces[index], landmarks[index] = face, points
        last = face
        if on_face is not None:
            on_face(index, face)
    return Track(first_faces=tuple(found), faces=faces, landmarks=landmarks)
