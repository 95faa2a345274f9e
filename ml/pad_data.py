"""`python -m ml.pad_data --faces DIR --seed N --out DIR`: an image-folder PAD set.

Every face found in the photos of DIR (each face of a group photo counts) is cut into a
portrait frame; for each species of PAD_CLASSES, `--per-species` seeded renderings
(ml/simulator/attacks.py) are cropped the way the model sees them (2.7x the face box, 80 px,
with a little jitter of the box) and written to OUT/<species>/<photo>_<face>_<n>.png.
"""

import argparse
import zlib
from pathlib import Path

import numpy as np

from .image import load_rgb
from .pad import PAD_CLASSES, pad_crop
from .pipeline import perception
from .simulator.attacks import render_attack
from .simulator.head import portrait_frame

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp"}


def face_portraits(faces_dir: Path, names: list[str] | None = None):
    """(label, portrait frame, face box in it) for every face in the photos."""
    detector = perception().detector
    paths = sorted(p for p in faces_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if names:
        paths = [p for p in paths if p.name in names]
    for path in paths:
        rgb = load_rgb(path)
        for index, face in enumerate(detector.detect(rgb)):
            frame, _ = portrait_frame(rgb, face.box)
            found = detector.detect(frame)
            if found:
                yield f"{path.stem}_{index}", frame, found[0].box


def item_seed(*parts) -> int:
    """A stable seed for one generated item, from what names it ("seed/label/species/n")."""
    return zlib.crc32("/".join(str(p) for p in parts).encode())


def selfie_frames(faces_dir: Path, names: list[str], *, min_relative_width: float = 0.0):
    """(source, picture, face box) per face of each photo: single-face photos as they are, each
    face of a group photo cut out with room around it (a selfie of that person).

    min_relative_width: leave out faces of a group photo narrower than this share of its widest
    face. The fusion's validation and test use 0.5 (ml/fit_fusion.py): a liveness API judges
    the largest face, and the small, out-of-focus people behind a red-carpet subject are not
    what any client sends as a selfie; training keeps every face (more live variety)."""
    from .capture import tight_crop

    detector = perception().detector
    for name in names:
        rgb = load_rgb(faces_dir / name)
        faces = detector.detect(rgb)
        if len(faces) == 1:
            yield f"{name}#0", rgb, faces[0].box
            continue
        widest = max((f.box[2] - f.box[0] for f in faces), default=0.0)
        for index, face in enumerate(faces):
            if face.box[2] - face.box[0] < min_relative_width * widest:
                continue
            crop = tight_crop(rgb, face.box, 3.0)
            found = detector.detect(crop)
            if found:
                yield f"{name}#{index}", crop, found[0].box


def identity_frames(folder: Path, allowed_sources: list[str]):
    """(label, frame, box) of a folder written by `python -m ml.simulator.identities`, keeping
    only identities made entirely from `allowed_sources` photos."""
    import json

    manifest = json.loads((folder / "manifest.json").read_text())
    for label, entry in sorted(manifest.items()):
        photos = {source.split("#")[0] for source in entry["sources"]}
        if photos <= set(allowed_sources):
            yield label, load_rgb(folder / f"{label}.png"), tuple(entry["box"])


def pad_set(faces_dir: Path, out: Path, *, seed: int, per_species: int,
            names: list[str] | None = None) -> dict[str, int]:
    import cv2

    counts = dict.fromkeys(PAD_CLASSES, 0)
    for label, frame, box in face_portraits(faces_dir, names):
        for species in PAD_CLASSES:
            (out / species).mkdir(parents=True, exist_ok=True)
            for n in range(per_species):
                seed_of_item = item_seed(seed, label, species, n)
                rng = np.random.default_rng(seed_of_item)
                image = render_attack(species, frame, box, seed=seed_of_item)
                x1, y1, x2, y2 = box
                w = x2 - x1
                dx, dy = rng.uniform(-0.05, 0.05, 2) * w
                grow = rng.uniform(-0.1, 0.1) * w / 2
                jittered = (x1 + dx - grow, y1 + dy - grow, x2 + dx + grow, y2 + dy + grow)
                crop = pad_crop(image, jittered)
                cv2.imwrite(str(out / species / f"{label}_{n}.png"),
                            cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
                counts[species] += 1
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.pad_data", description=__doc__)
    parser.add_argument("--faces", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--per-species", type=int, default=20)
    parser.add_argument("--names", default="", help="comma-separated photo file names to use")
    args = parser.parse_args(argv)
    names = [n for n in args.names.split(",") if n] or None
    counts = pad_set(args.faces, args.out, seed=args.seed, per_species=args.per_species,
                     names=names)
    print(counts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
