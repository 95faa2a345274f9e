"""Synthetic live identities: new, plausible faces morphed from the real faces of a few photos.

`python -m ml.simulator.identities --faces DIR --names a.jpg,b.jpg --count N --seed S --out DIR`
writes OUT/<label>.png per identity and OUT/manifest.json ({label: {sources, box}}).

Method (docs/IDENTITIES.md):
1. Sources: every face MTCNN finds in the listed photos is cut into a portrait frame
   (head.portrait_frame), found again there, and given FaceMesh's 478 points. A face is used
   when it lies wholly inside its frame, is in colour, is large enough in its photo and near
   frontal. Faces of the same person (SFace cosine above the calibrated 1e-4 threshold) form one
   person; an identity never mixes two faces of one person.
2. Canonical frame: each source is moved by a similarity transform (least squares on its
   landmarks) onto the sources' mean shape, placed with the pupils at fixed points of a
   480 x 600 frame.
3. Morph: two or three sources of different people, random convex weights (none above
   MAX_WEIGHT). The mean shape is the weighted mean of their landmarks; each source is warped
   piecewise-affinely (Delaunay triangles over the landmarks and the frame's border points) onto
   it. The face (inside FaceMesh's oval, feathered) is the weighted blend of the warped sources,
   each first given the host's skin colour (Reinhard mean/std transfer in Lab); the inside of
   the mouth, the hair, ears, neck, clothes and background are the host's (the first source),
   warped the same way, so nothing ghosts.
4. Variation: skin tone (Lab transfer of the person's skin toward another source's or a tone
   between two sources'), background kept, blurred or replaced by a synthetic wall (person mask
   from MediaPipe's selfie segmentation), a lighting gradient and white balance, a small head
   turn (the 2.5D HeadModel), a framing jitter and sensor noise.
5. Checks: MTCNN runs on the result; it is kept only with exactly one confident face, and only
   if it is a new face: its SFace cosine to each of its sources is below NEW_FACE_MAX_COSINE.
Same seed and same photos, same identities.
"""

import argparse
import json
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..weights import WeightFile, resolve
from .head import barycentric

WIDTH, HEIGHT = 480, 600
PUPILS = ((201.0, 262.0), (279.0, 262.0))   # canonical pupil positions (the faces' ~40 % of W)
RIGHT_PUPIL, LEFT_PUPIL = 468, 473          # FaceMesh iris centres (refine_landmarks)
MESH_POINTS = list(range(468)) + [RIGHT_PUPIL, LEFT_PUPIL]  # iris rings left out: lids hide them
MAX_WEIGHT = 0.6                # no source dominates an identity
SAME_PERSON_COSINE = 0.489      # SFace threshold cosine at FAR 1e-4 (ml/calibration.json)
NEW_FACE_MAX_COSINE = 0.6       # an identity's cosine to each of its sources stays below this
SOURCE_MIN_FACE_PX = 80         # face box width in the source photo
SOURCE_MIN_FRONTAL = 0.4        # ml.quality.frontal_of
SOURCE_MAX_YAW = 0.35           # _yaw_of: the far cheek is hidden beyond it
TONE_STEP = np.array([22.0, 5.0, 7.0])  # largest skin-tone shift (Lab, 8-bit scale)
YAW_SPREAD = 0.3                # the faces of one identity are turned alike (no folded warps)
SOURCE_MIN_CHROMA = 4.0         # std of Lab a/b in the face: below it, a grey photo
ATTEMPTS_PER_IDENTITY = 4

SELFIE_SEGMENTATION = WeightFile(
    "selfie_segmentation", "mediapipe", "modules/selfie_segmentation/selfie_segmentation.tflite",
    "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c", 249505,
    "pip install --no-deps mediapipe==0.10.21", "Apache-2.0")


@dataclass(frozen=True)
class SyntheticIdentity:
    label: str
    sources: tuple[str, ...]                  # "photo.jpg#face index" of each morphed face
    frame: np.ndarray                         # RGB uint8 portrait, WIDTH x HEIGHT
    box: tuple[float, float, float, float]    # face box in frame (our detector, re-run)


@dataclass(frozen=True)
class _Source:
    name: str               # "t1.jpg#2"
    image: np.ndarray       # RGB uint8, canonical frame (HEIGHT x WIDTH)
    points: np.ndarray      # (len(MESH_POINTS), 3) in the canonical frame
    embedding: np.ndarray   # SFace, of the portrait frame
    yaw: float              # _yaw_of
    person: int = -1


# --- geometry ------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def _loops() -> dict[str, list[int]]:
    from .head import _topology

    topology = _topology()
    return {"oval": topology["oval"], "inner_lips": topology["inner_lips"]}


def _similarity(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """2x3 least-squares similarity (Umeyama) taking source (N, 2) points onto target."""
    mu_s, mu_t = source.mean(axis=0), target.mean(axis=0)
    s, t = source - mu_s, target - mu_t
    covariance = t.T @ s / len(source)
    u, d, vt = np.linalg.svd(covariance)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rotation = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / s.var(axis=0).sum()
    matrix = np.empty((2, 3))
    matrix[:, :2] = scale * rotation
    matrix[:, 2] = mu_t - scale * rotation @ mu_s
    return matrix


def _yaw_of(points: np.ndarray) -> float:
    """The nose tip's sideways offset from the middle of the cheeks, in face widths (0 when
    frontal, about +-0.5 at 30 degrees)."""
    left, right, nose = points[234, 0], points[454, 0], points[1, 0]
    return float((nose - (left + right) / 2) / max(right - left, 1e-6))


def _transform(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Applies a 2x3 similarity to (N, 3) points; depth scales with it."""
    scale = float(np.sqrt(abs(np.linalg.det(matrix[:, :2]))))
    out = np.empty_like(points, dtype=np.float64)
    out[:, :2] = points[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    out[:, 2] = points[:, 2] * scale
    return out


def _border_points() -> np.ndarray:
    xs, ys = np.linspace(0, WIDTH - 1, 5), np.linspace(0, HEIGHT - 1, 6)
    border = [(x, y) for x in xs for y in (0, HEIGHT - 1)]
    border += [(x, y) for y in ys[1:-1] for x in (0, WIDTH - 1)]
    return np.array(border, dtype=np.float64)


def _delaunay(points: np.ndarray) -> np.ndarray:
    """Triangles (T, 3) of indices into points (all inside the frame)."""
    import cv2

    subdiv = cv2.Subdiv2D((-1, -1, WIDTH + 2, HEIGHT + 2))
    index = {}
    for i, (x, y) in enumerate(points.astype(np.float32)):
        key = (float(x), float(y))
        if key not in index:
            index[key] = i
            subdiv.insert(key)
    triangles = []
    for x1, y1, x2, y2, x3, y3 in subdiv.getTriangleList():
        corners = [index.get((float(x), float(y))) for x, y in ((x1, y1), (x2, y2), (x3, y3))]
        if None not in corners:
            triangles.append(corners)
    return np.array(triangles, dtype=np.int64)


class _PiecewiseAffine:
    """Maps every pixel of the destination mesh to barycentric coordinates once; each source
    mesh with the same triangles then gives its remap in one vectorised step."""

    def __init__(self, destination: np.ndarray, triangles: np.ndarray):
        import cv2

        owner = np.full((HEIGHT, WIDTH), -1, np.int32)
        corners = destination[triangles]                               # (T, 3, 2)
        for index, triangle in enumerate(corners):
            cv2.fillConvexPoly(owner, np.round(triangle * 16).astype(np.int32), (int(index),),
                               cv2.LINE_8, 4)
        ys, xs = np.nonzero(owner >= 0)
        tri = owner[ys, xs]
        (l1, l2, l3), usable = barycentric(corners[tri], xs, ys)
        self.weights = np.stack([l1, l2, l3], axis=1)[usable]
        self.ys, self.xs, self.tri = ys[usable], xs[usable], tri[usable]
        self.triangles = triangles

    def warp(self, image: np.ndarray, source: np.ndarray) -> np.ndarray:
        import cv2

        map_x, map_y = np.meshgrid(np.arange(WIDTH, dtype=np.float32),
                                   np.arange(HEIGHT, dtype=np.float32))
        corners = source[self.triangles[self.tri]]                     # (N, 3, 2)
        mapped = np.einsum("nk,nkc->nc", self.weights, corners)
        map_x[self.ys, self.xs] = mapped[:, 0]
        map_y[self.ys, self.xs] = mapped[:, 1]
        return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _polygon_mask(points: np.ndarray, shrink: float, feather: float) -> np.ndarray:
    """A float mask (HEIGHT, WIDTH) of the polygon scaled by `shrink` about its centre and
    blurred with a Gaussian of sigma `feather` pixels."""
    import cv2

    centre = points.mean(axis=0)
    polygon = centre + (points - centre) * shrink
    mask: np.ndarray = np.zeros((HEIGHT, WIDTH), np.float32)
    cv2.fillPoly(mask, [np.round(polygon * 16).astype(np.int32)], (1.0,), cv2.LINE_AA, 4)
    if feather > 0:
        mask = cv2.GaussianBlur(mask, (0, 0), feather)
    return mask


# --- colour --------------------------------------------------------------------------------

def _lab(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.clip(rgb, 0, 255).astype(np.uint8), cv2.COLOR_RGB2LAB
                        ).astype(np.float32)


def _rgb(lab: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.clip(lab, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)


def _stats(lab: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and std per Lab channel."""
    w = mask.reshape(-1, 1)
    values = lab.reshape(-1, 3)
    total = max(float(w.sum()), 1e-6)
    mean = (values * w).sum(axis=0) / total
    std = np.sqrt(((values - mean) ** 2 * w).sum(axis=0) / total)
    return mean, np.maximum(std, 1e-3)


def _transfer(lab: np.ndarray, source: tuple, target: tuple, alpha: np.ndarray) -> np.ndarray:
    """Reinhard transfer of the pixels under alpha from source stats to target stats."""
    (mean_s, std_s), (mean_t, std_t) = source, target
    ratio = np.clip(std_t / std_s, 0.7, 1.4)
    moved = (lab - mean_s) * ratio + mean_t
    return lab + (moved - lab) * alpha[..., None]


def _skin_region(points: np.ndarray) -> np.ndarray:
    """The cheeks, forehead and chin: the oval, shrunk, without eyes and mouth (roughly)."""
    import cv2

    mask = _polygon_mask(points[_loops()["oval"], :2], 0.85, 0)
    for loop in (_loops()["inner_lips"],):
        mask -= _polygon_mask(points[loop, :2], 1.6, 0)
    for centre in (points[MESH_POINTS.index(RIGHT_PUPIL), :2],
                   points[MESH_POINTS.index(LEFT_PUPIL), :2]):
        radius = int(0.22 * np.hypot(*(points[MESH_POINTS.index(RIGHT_PUPIL), :2]
                                       - points[MESH_POINTS.index(LEFT_PUPIL), :2])))
        cv2.circle(mask, tuple(int(v) for v in centre), radius, (0.0,), -1)
    return np.clip(mask, 0, 1)


# --- person segmentation -------------------------------------------------------------------

class _Segmenter:
    def __init__(self):
        resolve(SELFIE_SEGMENTATION)  # verified before mediapipe loads its own copy
        from mediapipe.python.solutions import selfie_segmentation

        self._model = selfie_segmentation.SelfieSegmentation(model_selection=0)

    def person(self, rgb: np.ndarray) -> np.ndarray:
        """A float mask (0..1) of the person."""
        result = self._model.process(np.ascontiguousarray(rgb))
        return np.clip(np.asarray(result.segmentation_mask, dtype=np.float32), 0, 1)


# --- sources -------------------------------------------------------------------------------

def _find_sources(faces_dir: Path, names: list[str], detector, mesher, embedder
                  ) -> list[_Source]:
    from ..image import load_rgb
    from ..quality import completeness_of, frontal_of
    from .head import portrait_frame

    found = []
    for name in sorted(set(names)):
        path = faces_dir / name
        if not path.is_file():
            raise FileNotFoundError(f"no photo {path}")
        photo = load_rgb(path)
        for index, face in enumerate(detector.detect(photo)):
            if face.width < SOURCE_MIN_FACE_PX:
                continue
            frame, _ = portrait_frame(photo, face.box)
            again = detector.detect(frame)
            if not again:
                continue
            portrait_face = again[0]
            if (completeness_of(frame, portrait_face) < 0.999
                    or frontal_of(portrait_face) < SOURCE_MIN_FRONTAL):
                continue
            points = mesher.landmarks(frame, portrait_face)
            if points is None:
                continue
            points = np.asarray(points, dtype=np.float64)[MESH_POINTS]
            if abs(_yaw_of(points)) > SOURCE_MAX_YAW:
                continue
            found.append((f"{name}#{index}", frame, portrait_face, points))
    if not found:
        return []
    # canonical placement: pupils onto PUPILS; then the mean shape; then each onto that mean
    pupils = [MESH_POINTS.index(RIGHT_PUPIL), MESH_POINTS.index(LEFT_PUPIL)]
    placed = [_transform(p, _similarity(p[pupils, :2], np.array(PUPILS)))
              for _, _, _, p in found]
    template = np.mean([p[:, :2] for p in placed], axis=0)
    template = _transform(np.c_[template, np.zeros(len(template))],
                          _similarity(template[pupils], np.array(PUPILS)))[:, :2]
    sources = []
    import cv2

    for name, frame, face, points in found:
        matrix = _similarity(points[:, :2], template)
        image = cv2.warpAffine(frame, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)
        canonical = _transform(points, matrix)
        lab = _lab(image)
        _, std = _stats(lab, _skin_region(canonical))
        if max(std[1], std[2]) < SOURCE_MIN_CHROMA and np.ptp(
                image.reshape(-1, 3).mean(axis=0)) < 3:
            continue  # a grey photo
        sources.append(_Source(name, image, canonical, embedder.embed(frame, face),
                               _yaw_of(canonical)))
    # people: faces whose embeddings match are one person (single linkage)
    person = list(range(len(sources)))
    for i in range(len(sources)):
        for j in range(i):
            if float(sources[i].embedding @ sources[j].embedding) > SAME_PERSON_COSINE:
                old, new = person[i], person[j]
                person = [new if p == old else p for p in person]
    return [_Source(s.name, s.image, s.points, s.embedding, s.yaw, person=p)
            for s, p in zip(sources, person, strict=True)]


@lru_cache(maxsize=4)
def _sources(faces_dir: Path, names: tuple[str, ...]) -> list[_Source]:
    """The usable faces of these photos (kept: a second call with the same photos is free)."""
    from ..pipeline import perception

    analysis = perception()
    return _find_sources(faces_dir, list(names), analysis.detector, analysis.mesher,
                         analysis.embedder)


# --- one identity --------------------------------------------------------------------------

def _weights(rng: np.random.Generator, n: int) -> np.ndarray:
    while True:
        weights = rng.dirichlet(np.full(n, 3.0))
        if weights.max() <= MAX_WEIGHT:
            return weights


def _choose(sources: list[_Source], rng: np.random.Generator, n: int) -> list[_Source] | None:
    """A host face, then faces of other people turned like it (up to n in all; None if no
    second face fits)."""
    chosen = [sources[int(rng.integers(0, len(sources)))]]
    while len(chosen) < n:
        fits = [s for s in sources if s.person not in {c.person for c in chosen}
                and max(abs(s.yaw - c.yaw) for c in chosen) <= YAW_SPREAD]
        if not fits:
            break
        chosen.append(fits[int(rng.integers(0, len(fits)))])
    return chosen if len(chosen) >= 2 else None


def _synthetic_wall(rng: np.random.Generator) -> np.ndarray:
    import cv2

    base = rng.uniform(60, 230, 3)
    tint = base * rng.uniform(0.75, 1.15, 3)
    t = np.linspace(0, 1, HEIGHT, dtype=np.float32)[:, None, None]
    wall = (base * (1 - t) + tint * t) * np.ones((1, WIDTH, 1), np.float32)
    for _ in range(int(rng.integers(0, 4))):  # doors, frames, shelves: blurred rectangles
        x1, y1 = rng.uniform(-0.2, 0.9) * WIDTH, rng.uniform(-0.2, 0.8) * HEIGHT
        x2, y2 = x1 + rng.uniform(0.1, 0.6) * WIDTH, y1 + rng.uniform(0.1, 0.7) * HEIGHT
        colour = np.clip(base * rng.uniform(0.5, 1.3, 3), 0, 255)
        cv2.rectangle(wall, (int(x1), int(y1)), (int(x2), int(y2)), colour.tolist(), -1)
    wall = cv2.GaussianBlur(wall, (0, 0), rng.uniform(3, 12))
    wall += rng.normal(0, 2.0, wall.shape).astype(np.float32)
    return np.clip(wall, 0, 255)


def _morph(chosen: list[_Source], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The blended face on the host's head: (RGB float image, mean shape (N, 3))."""
    mean = np.tensordot(weights, np.stack([s.points for s in chosen]), axes=1)
    border = _border_points()
    destination = np.concatenate([mean[:, :2], border])
    warper = _PiecewiseAffine(destination, _delaunay(destination))
    warped = [warper.warp(s.image, np.concatenate([s.points[:, :2], border])).astype(np.float32)
              for s in chosen]
    oval, lips = _loops()["oval"], _loops()["inner_lips"]
    face_width = float(np.ptp(mean[oval, 0]))
    skin = _skin_region(mean)
    host_lab = _lab(warped[0])
    host_stats = _stats(host_lab, skin)
    face = np.zeros_like(warped[0])
    for weight, image in zip(weights, warped, strict=True):
        lab = _lab(image)
        matched = _rgb(_transfer(lab, _stats(lab, skin), host_stats, np.ones(lab.shape[:2],
                                                                            np.float32)))
        face += weight * matched.astype(np.float32)
    mouth = _polygon_mask(mean[lips, :2], 1.15, 0.01 * face_width)[..., None]
    face = face * (1 - mouth) + warped[0] * mouth
    # the outline, jaw and hairline stay the host's: other faces' edges would show through
    alpha = _polygon_mask(mean[oval, :2], 0.84, 0.025 * face_width)[..., None]
    return face * alpha + warped[0] * (1 - alpha), mean


def _vary(image: np.ndarray, mean: np.ndarray, rng: np.random.Generator,
          pool: list[_Source], segmenter: _Segmenter) -> np.ndarray:
    import cv2

    from .head import HeadModel

    oval = _loops()["oval"]
    face_width = float(np.ptp(mean[oval, 0]))
    rgb = np.clip(image, 0, 255).astype(np.uint8)
    person = np.clip((segmenter.person(rgb) - 0.3) / 0.4, 0, 1)
    # skin tone: the face and whatever of the person has the face's colour
    lab = _lab(rgb)
    skin = _skin_region(mean)
    stats = _stats(lab, skin)
    if rng.random() < 0.8:
        # toward another face's tone, part of the way: a shift the neck, ears and hands can
        # follow (the mask below) without the face looking painted on
        other = pool[int(rng.integers(0, len(pool)))]
        other_stats = _stats(_lab(other.image), _skin_region(other.points))
        step = np.clip(rng.uniform(0.2, 0.8) * (other_stats[0] - stats[0]), -TONE_STEP,
                       TONE_STEP)
        step += rng.normal(0, 1, 3) * np.array([4.0, 1.5, 1.5])
        target = (stats[0] + step, stats[1])
        # the whole person follows (neck, ears, hands; clothes and hair take it as light)
        alpha = np.maximum(_polygon_mask(mean[oval, :2], 1.0, 0.03 * face_width), person)
        lab = _transfer(lab, stats, target, cv2.GaussianBlur(alpha, (0, 0), 2))
        rgb = _rgb(lab)
    # background: kept, blurred, or a synthetic wall
    choice = rng.random()
    if choice < 0.65:
        soft = cv2.GaussianBlur(person, (0, 0), 1.5)[..., None]
        if choice < 0.25:
            background = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(4, 9)).astype(np.float32)
        else:
            background = _synthetic_wall(rng)
        rgb = np.clip(rgb * soft + background * (1 - soft), 0, 255).astype(np.uint8)
    # a small head turn
    if rng.random() < 0.6:
        head = HeadModel(rgb, mean[:468])
        rgb = head.render(yaw=float(rng.uniform(-12, 12)), pitch=float(rng.uniform(-7, 7)))
    # light: a gradient across the frame, exposure and white balance
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:HEIGHT, 0:WIDTH].astype(np.float32)
    ramp = ((xs - WIDTH / 2) * np.cos(angle) + (ys - HEIGHT / 2) * np.sin(angle)) / WIDTH
    gain = (1 + rng.uniform(0, 0.5) * ramp) * rng.uniform(0.85, 1.15)
    balance = rng.uniform(0.93, 1.07, 3).astype(np.float32)
    out: np.ndarray = rgb.astype(np.float32) * gain[..., None] * balance
    # framing: a little zoom, shift and roll (the face stays in frame)
    scale = rng.uniform(1.0, 1.12)
    centre = (WIDTH / 2 + rng.uniform(-15, 15), HEIGHT / 2 + rng.uniform(-15, 15))
    matrix = cv2.getRotationMatrix2D(centre, rng.uniform(-6, 6), scale)
    out = cv2.warpAffine(out, matrix, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.5:
        out = out[:, ::-1]
    out += rng.normal(0, rng.uniform(0.5, 3.0), out.shape).astype(np.float32)
    return np.clip(out, 0, 255).astype(np.uint8)


# --- the generator -------------------------------------------------------------------------

def synthetic_identities(faces_dir: Path, names: list[str], *, count: int, seed: int
                         ) -> Iterator[SyntheticIdentity]:
    """`count` new live faces morphed from the faces of the photos `names` in `faces_dir`
    (no other photo is read). Deterministic for a seed. Fewer come back when the photos hold
    fewer than two usable people, or when too many results fail the checks."""
    from ..pipeline import perception

    analysis = perception()
    detector, embedder = analysis.detector, analysis.embedder
    sources = _sources(Path(faces_dir).resolve(), tuple(sorted(set(names))))
    people = sorted({s.person for s in sources})
    if len(people) < 2 or count <= 0:
        return
    segmenter = _Segmenter()
    made = 0
    for attempt in range(count * ATTEMPTS_PER_IDENTITY):
        rng = np.random.default_rng(zlib.crc32(f"identities/{seed}/{attempt}".encode()))
        chosen = _choose(sources, rng, 3 if rng.random() < 0.4 else 2)
        if chosen is None:
            continue
        weights = np.sort(_weights(rng, len(chosen)))  # the host (first) weighs least
        morph, mean = _morph(chosen, weights)
        frame = _vary(morph, mean, rng, sources, segmenter)
        found = detector.detect(frame)
        if len(found) != 1:
            continue
        embedding = embedder.embed(frame, found[0])
        if max(float(embedding @ s.embedding) for s in chosen) >= NEW_FACE_MAX_COSINE:
            continue
        yield SyntheticIdentity(label=f"synth-{seed}-{made:04d}",
                                sources=tuple(s.name for s in chosen), frame=frame,
                                box=found[0].box)
        made += 1
        if made == count:
            return


def main(argv: list[str] | None = None) -> int:
    import cv2

    parser = argparse.ArgumentParser(prog="python -m ml.simulator.identities",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=Path, required=True, help="folder of photos")
    parser.add_argument("--names", required=True, help="comma-separated photo file names")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    names = [n for n in args.names.split(",") if n]
    args.out.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    manifest = {}
    for identity in synthetic_identities(args.faces, names, count=args.count, seed=args.seed):
        cv2.imwrite(str(args.out / f"{identity.label}.png"),
                    cv2.cvtColor(identity.frame, cv2.COLOR_RGB2BGR))
        manifest[identity.label] = {"sources": list(identity.sources),
                                    "box": [round(v, 1) for v in identity.box]}
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    seconds = time.monotonic() - started
    print(f"{len(manifest)} identities of {args.count} asked, from {len(names)} photos, "
          f"in {seconds:.1f} s ({seconds / max(len(manifest), 1):.2f} s each) -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
