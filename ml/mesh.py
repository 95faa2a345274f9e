"""Dense landmarks (MediaPipe FaceMesh, 478 points) for a detected face.

FaceMesh's own detector only finds large, near faces, so it runs on a square crop around the
MTCNN face (the box grown to 1.7x, scaled to 256 px); points come back in image pixels.
"""

import importlib.util
import sys
from functools import cached_property

import numpy as np

from .detection import Face
from .weights import weight_path

CROP_SIZE = 256
CROP_GROW = 1.7
# A NormalizedLandmark with exactly x, y and z set, as protobuf writes it: field 1 of the list
# (tag 0x0a) of 15 bytes, holding fields 1, 2, 3 (tags 0x0d, 0x15, 0x1d) as little-endian floats
LANDMARK_RECORD = 17
LANDMARK_TAGS = {0: 0x0A, 1: 0x0F, 2: 0x0D, 7: 0x15, 12: 0x1D}
LANDMARK_FLOATS = [3, 4, 5, 6, 8, 9, 10, 11, 13, 14, 15, 16]


def normalized_points(landmark_list) -> np.ndarray:
    """(N, 3) float32 x, y, z of a NormalizedLandmarkList. Read from its serialized bytes when
    every landmark holds exactly x, y and z (what FaceMesh gives): ~0.07 ms against ~0.5 ms for
    reading 1,434 attributes one by one, on each of a clip's ~30 frames. Any other layout (a
    visibility field, say) is read attribute by attribute."""
    raw = np.frombuffer(landmark_list.SerializeToString(), np.uint8)
    count = len(landmark_list.landmark)
    if raw.size == count * LANDMARK_RECORD:
        records = raw.reshape(count, LANDMARK_RECORD)
        if all((records[:, column] == tag).all() for column, tag in LANDMARK_TAGS.items()):
            # copied C-ordered (the column pick is not), its 12 bytes a row read as 3 floats
            return records[:, LANDMARK_FLOATS].copy(order="C").view("<f4").reshape(count, 3)
    return np.array([(p.x, p.y, p.z) for p in landmark_list.landmark], dtype=np.float32)


def _package_unrun(name: str) -> None:
    """Registers the package `name` as a module over its own folder without running its
    `__init__`: its submodules then import as usual."""
    spec = importlib.util.find_spec(name)
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError(f"{name} is not an installed package")
    sys.modules[name] = importlib.util.module_from_spec(spec)


def face_mesh_module():
    """mediapipe's FaceMesh solution, imported without the `__init__` of the `mediapipe`
    package and of its `solutions` package: those import every solution (hands, pose,
    holistic...), the tasks API and matplotlib (for the drawing helpers), ~32 MiB of a worker
    process that no model here uses (docs/MODELS.md, FaceMesh). `mediapipe.python` (the
    bindings, what mediapipe's own `__init__` imports first) runs as usual. Where mediapipe is
    already imported, it is used as it is."""
    if "mediapipe" not in sys.modules:
        _package_unrun("mediapipe")
    import mediapipe.python  # noqa: F401 - the framework bindings, before any solution

    if "mediapipe.python.solutions" not in sys.modules:
        _package_unrun("mediapipe.python.solutions")
    from mediapipe.python.solutions import face_mesh

    return face_mesh


class FaceMesher:
    def __init__(self):
        weight_path("facemesh")  # verified before mediapipe loads its own copy

    @cached_property
    def _mesh(self):
        face_mesh = face_mesh_module()
        return face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                  refine_landmarks=True, min_detection_confidence=0.3)

    def landmarks(self, rgb: np.ndarray, face: Face) -> np.ndarray | None:
        """(478, 3) points: x, y in image pixels, z in the same scale; None if not found."""
        import cv2

        x1, y1, x2, y2 = face.box
        side = max(x2 - x1, y2 - y1) * CROP_GROW
        scale = CROP_SIZE / side
        shift_x = CROP_SIZE / 2 - (x1 + x2) / 2 * scale
        shift_y = CROP_SIZE / 2 - (y1 + y2) / 2 * scale
        matrix = np.array([[scale, 0, shift_x], [0, scale, shift_y]], dtype=np.float32)
        crop = cv2.warpAffine(rgb, matrix, (CROP_SIZE, CROP_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
        result = self._mesh.process(crop)
        if not result.multi_face_landmarks:
            return None
        points = normalized_points(result.multi_face_landmarks[0]) * np.float32(CROP_SIZE)
        points[:, 0] = (points[:, 0] - shift_x) / scale
        points[:, 1] = (points[:, 1] - shift_y) / scale
        points[:, 2] /= scale
        return points
