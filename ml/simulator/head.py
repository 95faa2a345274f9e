"""A 2.5D head from one photo: turns, nods, blinks and opens its mouth on cue.

Method (measured in the trial recorded in SIMULATOR-NOTES.md; this is our own code): FaceMesh's
478 points with their depth, FaceMesh's own triangles (from its tessellation's 3-cliques), fans
over the eyes and the inner mouth, three rings beyond the face outline that curve back like an
ellipsoid, and a fixed outer ring so the background stays still. A pose rotates the points
about a centre 0.45 face widths behind the face; a camera 3.5 face widths away projects them.
Triangles are painted far to near into one source-coordinate map, then one cv2.remap makes the
frame. A blink moves the upper lids onto the lower ones (the lid's skin stretches over the eye;
a dark lash line is drawn); an open mouth drops the lower lip and jaw and darkens the inside.
Limits: past ~25° the face slides like a mask over hair and ears; the open mouth is flat.
"""

import collections
from functools import lru_cache

import numpy as np

from .camera import CameraEffects
from .landmarks import (
    LEFT_LOWER_LID,
    LEFT_UPPER_LID,
    LOWER_INNER_LIP,
    RIGHT_LOWER_LID,
    RIGHT_UPPER_LID,
    UPPER_INNER_LIP,
    pose_at,
)

RING_SCALES = (1.18, 1.4, 1.7)
RING_DEPTHS = (0.12, 0.3, 0.55)      # in face widths, behind the outline
OUTER_SCALE = 2.3


def _neighbours(connections) -> dict[int, list[int]]:
    neighbours = collections.defaultdict(list)
    for a, b in connections:
        neighbours[a].append(b)
        neighbours[b].append(a)
    return neighbours


def _walk(neighbours: dict[int, list[int]], start: int) -> list[int]:
    """The vertices of the closed loop through `start`, in order."""
    order, previous, current = [start], None, start
    while True:
        following = [n for n in neighbours[current] if n != previous][0]
        if following == start:
            return order
        order.append(following)
        previous, current = current, following


def _loop(connections) -> list[int]:
    neighbours = _neighbours(connections)
    return _walk(neighbours, min(neighbours))


@lru_cache(maxsize=1)
def _topology():
    from mediapipe.python.solutions import face_mesh_connections as sets

    edges = {tuple(sorted(e)) for e in sets.FACEMESH_TESSELATION}
    neighbours = collections.defaultdict(set)
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    triangles = sorted({tuple(sorted((a, b, c))) for a, b in edges
                        for c in neighbours[a] & neighbours[b]})
    inner_lips = _walk(_neighbours(sets.FACEMESH_LIPS), 13)  # the loop through 13: inner lips
    return {"triangles": triangles, "oval": _loop(sets.FACEMESH_FACE_OVAL),
            "left_eye": _loop(sets.FACEMESH_LEFT_EYE), "right_eye": _loop(sets.FACEMESH_RIGHT_EYE),
            "inner_lips": inner_lips}


class HeadModel:
    def __init__(self, photo: np.ndarray, points: np.ndarray):
        topology = _topology()
        self.photo = photo
        height, width = photo.shape[:2]
        points = np.asarray(points, dtype=np.float64)[:468]
        face_width = float(np.ptp(points[topology["oval"], 0]))
        oval = topology["oval"]
        centre_xy = points[oval, :2].mean(axis=0)
        vertices = [points]
        triangles = [np.array(topology["triangles"])]

        def add(new: np.ndarray) -> int:
            first = sum(len(v) for v in vertices)
            vertices.append(new)
            return first

        for loop in (topology["left_eye"], topology["right_eye"], topology["inner_lips"]):
            hub = add(points[loop].mean(axis=0)[None])
            triangles.append(np.array([(hub, loop[i], loop[(i + 1) % len(loop)])
                                       for i in range(len(loop))]))
        previous = np.array(oval)
        for scale, depth in zip(RING_SCALES + (OUTER_SCALE,), RING_DEPTHS + (None,),
                                strict=True):
            ring = np.empty((len(oval), 3))
            ring[:, :2] = centre_xy + (points[oval, :2] - centre_xy) * scale
            ring[:, 2] = points[oval, 2] + (depth if depth is not None else 0.0) * face_width
            first = add(ring)
            current = np.arange(first, first + len(oval))
            n = len(oval)
            triangles.append(np.array([(previous[i], previous[(i + 1) % n], current[i])
                                       for i in range(n)]))
            triangles.append(np.array([(previous[(i + 1) % n], current[(i + 1) % n],
                                        current[i]) for i in range(n)]))
            previous = current
        self.fixed = previous  # the outer ring stays where it is
        self.vertices = np.concatenate(vertices)
        self.triangles = np.concatenate(triangles)
        self.face_width = face_width
        self.centre = np.array([*centre_xy, points[:, 2].mean() + 0.45 * face_width])
        self.camera = 3.5 * face_width
        lips_line = (points[13, 1] + points[14, 1]) / 2
        jaw = np.clip((self.vertices[:, 1] - lips_line) / (0.05 * face_width), 0, 1)
        jaw[list(LOWER_INNER_LIP)] = 1.0
        jaw[list(UPPER_INNER_LIP)] = 0.0
        jaw[len(points):] *= 0.6  # the rings below the chin follow the jaw less
        jaw[self.fixed] = 0.0
        self.jaw = jaw
        self.topology = topology
        self.size = (width, height)

    def pose_vertices(self, yaw: float, pitch: float, close: float, mouth: float) -> np.ndarray:
        base = self.vertices.copy()
        for upper, lower in ((RIGHT_UPPER_LID, RIGHT_LOWER_LID), (LEFT_UPPER_LID, LEFT_LOWER_LID)):
            base[list(upper), :2] += close * (self.vertices[list(lower), :2]
                                              - self.vertices[list(upper), :2])
        base[:, 1] += 0.15 * self.face_width * mouth * self.jaw
        y, p = np.radians(yaw), np.radians(pitch)
        rotation = (np.array([[1, 0, 0], [0, np.cos(p), -np.sin(p)], [0, np.sin(p), np.cos(p)]])
                    @ np.array([[np.cos(y), 0, -np.sin(y)], [0, 1, 0],
                                [np.sin(y), 0, np.cos(y)]]))
        relative = (base - self.centre) @ rotation.T
        depth_before = self.vertices[:, 2] - self.centre[2]
        scale = (self.camera + depth_before) / (self.camera + relative[:, 2])
        posed = np.empty_like(base)
        posed[:, :2] = self.centre[:2] + relative[:, :2] * scale[:, None]
        posed[:, 2] = relative[:, 2]
        posed[self.fixed] = self.vertices[self.fixed]
        return posed

    def render(self, yaw: float = 0.0, pitch: float = 0.0, close: float = 0.0,
               mouth: float = 0.0) -> np.ndarray:
        import cv2

        width, height = self.size
        posed = self.pose_vertices(yaw, pitch, close, mouth)
        # Paint each triangle's index far to near (sub-pixel vertices), then map every covered
        # pixel through its triangle's barycentric coordinates in one vectorised step.
        owner = np.full((height, width), -1, np.int32)
        depth = posed[self.triangles, 2].mean(axis=1)
        destination = posed[self.triangles, :2]  # (T, 3, 2)
        for index in np.argsort(-depth):
            cv2.fillConvexPoly(owner, np.round(destination[index] * 16).astype(np.int32),
                               (int(index),), cv2.LINE_8, 4)
        map_x, map_y = np.meshgrid(np.arange(width, dtype=np.float32),
                                   np.arange(height, dtype=np.float32))
        ys, xs = np.nonzero(owner >= 0)
        tri = owner[ys, xs]
        (l1, l2, l3), usable = barycentric(destination[tri], xs, ys)
        s_ = self.vertices[self.triangles[tri], :2]               # (N, 3, 2)
        sx = l1 * s_[:, 0, 0] + l2 * s_[:, 1, 0] + l3 * s_[:, 2, 0]
        sy = l1 * s_[:, 0, 1] + l2 * s_[:, 1, 1] + l3 * s_[:, 2, 1]
        map_x[ys[usable], xs[usable]] = sx[usable]
        map_y[ys[usable], xs[usable]] = sy[usable]
        frame = cv2.remap(self.photo, map_x, map_y, cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_REPLICATE)
        if close > 0.5:
            for lower in (RIGHT_LOWER_LID, LEFT_LOWER_LID):
                line = posed[list(lower), :2].astype(np.int32)
                cv2.polylines(frame, [line], False, (35, 25, 25), 2, cv2.LINE_AA)
        if mouth > 0.15:
            inner = posed[self.topology["inner_lips"], :2].astype(np.int32)
            cv2.fillPoly(frame, [inner], (45, 18, 20), cv2.LINE_AA)
        return frame


def barycentric(corners: np.ndarray, xs: np.ndarray, ys: np.ndarray):
    """Barycentric coordinates of pixels (xs, ys) in their triangles `corners` (N, 3, 2): the
    three weights, and which pixels have a non-degenerate triangle (the others' weights are
    meaningless)."""
    e1, e2 = corners[:, 0] - corners[:, 2], corners[:, 1] - corners[:, 2]
    determinant = e1[:, 0] * e2[:, 1] - e2[:, 0] * e1[:, 1]
    usable = np.abs(determinant) > 1e-9
    dx, dy = xs - corners[:, 2, 0], ys - corners[:, 2, 1]
    safe = np.where(usable, determinant, 1.0)
    l1 = (e2[:, 1] * dx - e2[:, 0] * dy) / safe
    l2 = (-e1[:, 1] * dx + e1[:, 0] * dy) / safe
    return (l1, l2, 1.0 - l1 - l2), usable


def portrait_frame(photo: np.ndarray, box: tuple[float, ...], width: int = 480
                   ) -> tuple[np.ndarray, tuple[float, ...]]:
    """A phone-like portrait frame around the face (the face ~40 % of the frame's width)."""
    import cv2

    x1, y1, x2, y2 = box
    cx, cy, side = (x1 + x2) / 2, (y1 + y2) / 2, (x2 - x1) * 2.6
    left, top = max(0, int(cx - side / 2)), max(0, int(cy - side * 0.6))
    right = min(photo.shape[1], int(cx + side / 2))
    bottom = min(photo.shape[0], int(cy + side * 0.7))
    crop = photo[top:bottom, left:right]
    scale = width / crop.shape[1]
    frame = cv2.resize(crop, (width, int(round(crop.shape[0] * scale))),
                       interpolation=cv2.INTER_AREA)
    return frame, ((x1 - left) * scale, (y1 - top) * scale, (x2 - left) * scale,
                   (y2 - top) * scale)


def render_action_clip(photo: np.ndarray, points: np.ndarray, script, *, duration_ms: float,
                       seed: int, planar: bool = False, fps: float = 15.0,
                       swap_to: tuple[np.ndarray, np.ndarray] | None = None,
                       swap_at_ms: float | None = None) -> tuple[list[np.ndarray], list[float]]:
    """Frames of a head (or, with planar, a printed photo: one rigid plane that cannot blink
    or open its mouth) performing `script` [(action, start_ms, duration_ms)], with camera
    noise, exposure drift and hand shake. With `swap_to` (another portrait frame and its
    FaceMesh points), that person's head takes over from `swap_at_ms`: a face swapped
    mid-clip. Same seed, same frames."""
    rng = np.random.default_rng(seed)
    if planar:
        points = np.asarray(points, dtype=np.float64).copy()
        points[:, 2] = points[:, 2].mean()
    head = HeadModel(photo, points)
    other = HeadModel(*swap_to) if swap_to is not None else None
    if planar:
        head.vertices[:, 2] = head.vertices[:, 2].mean()
    camera = CameraEffects(rng, noise=2.0, shake_step=0.6, shake_limit=3)
    frames, times, t = [], [], 0.0
    while t <= duration_ms:
        yaw, pitch, close, mouth = pose_at(t, script)
        if planar:
            close = mouth = 0.0
        actor = other if other is not None and t >= (swap_at_ms or 0.0) else head
        frames.append(camera.apply(actor.render(yaw, pitch, close, mouth).astype(np.float32), t))
        times.append(round(t, 1))
        t += 1000.0 / fps + float(rng.uniform(-5, 5))
    return frames, times
