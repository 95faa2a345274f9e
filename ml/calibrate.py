"""`python -m ml.calibrate --photos DIR --identities FILE`: thresholds from impostor scores.

Embeds every face of the photos, forms all pairs of different people (impostors) and of the
same person (genuine), and writes ml/calibration.json with the thresholds at false-accept
rates 1e-3..1e-6 for the embedder.

Method: a few hundred impostor pairs cannot measure a 1e-6 tail, so the thresholds come from a
normal fitted to the impostor cosines, thr(f) = mean + sd * z(1 - f), never below the
embedder's published operating point (OpenCV Zoo: cosine 0.363 for SFace) at 1e-3, and
increasing with strictness. The figures are stored beside the thresholds, so their basis
stays visible.
"""

import argparse
import itertools
import json
import statistics
from pathlib import Path

from .image import load_rgb
from .jobs import FAR_LEVELS
from .pipeline import perception
from .similarity import CALIBRATION_FILE, confidence_of, cosine

PUBLISHED_OPERATING_POINT = {"sface": 0.363}


def embeddings_by_identity(photos: Path, identities: dict[str, str]) -> list[tuple[str, object]]:
    pipeline = perception()
    found = []
    for name, identity in sorted(identities.items()):
        if name.startswith("_"):
            continue
        analysis = pipeline.analyze(load_rgb(photos / name), embeddings=True)
        faces = analysis.faces if identity == "*" else analysis.faces[:1]
        for index, face in enumerate(faces):
            who = f"{name}#{index}" if identity == "*" else identity
            found.append((who, face.embedding))
    return found


def thresholds_from(impostors: list[float], model: str) -> dict[str, float]:
    mean, sd = statistics.fmean(impostors), statistics.stdev(impostors)
    floor = PUBLISHED_OPERATING_POINT.get(model, -1.0)
    thresholds, previous = {}, -1.0
    for key in FAR_LEVELS:
        z = statistics.NormalDist().inv_cdf(1 - float(key))
        value = max(mean + sd * z, floor, previous)
        thresholds[key] = value
        previous = value
    return thresholds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ml.calibrate", description=__doc__)
    parser.add_argument("--photos", type=Path, required=True)
    parser.add_argument("--identities", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=CALIBRATION_FILE)
    args = parser.parse_args(argv)

    model = perception().embedder.name
    faces = embeddings_by_identity(args.photos, json.loads(args.identities.read_text()))
    impostors: list[float] = []
    genuine: list[float] = []
    for (who_a, a), (who_b, b) in itertools.combinations(faces, 2):
        (genuine if who_a == who_b else impostors).append(cosine(a, b))
    thresholds = thresholds_from(impostors, model)
    result = {
        model: {
            "thresholds": {k: confidence_of(v) for k, v in thresholds.items()},
            "threshold_cosines": {k: round(v, 4) for k, v in thresholds.items()},
            "data": {
                "photos": str(args.photos), "faces": len(faces),
                "identities": len({who for who, _ in faces}),
                "impostor_pairs": len(impostors), "genuine_pairs": len(genuine),
                "impostor_cosine_mean": round(statistics.fmean(impostors), 4),
                "impostor_cosine_sd": round(statistics.stdev(impostors), 4),
                "impostor_cosine_max": round(max(impostors), 4),
                "genuine_cosine_min": round(min(genuine), 4) if genuine else None,
            },
            "method": "normal fit to impostor cosines, floored at the published operating "
                      "point at 1e-3; provisional until a larger impostor set is measured",
        }
    }
    existing = json.loads(args.out.read_text()) if args.out.exists() else {}
    existing.update(result)
    args.out.write_text(json.dumps(existing, indent=2) + "\n")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
