"""The real-trained passive anti-spoofing members on the CPU: load time and milliseconds per face.

    .venv/bin/python bench/pad_members.py [--repeat 20]

Each member (ml/pad_members.py) loaded once, then timed on the largest face of biden.jpg
(our MTCNN box; detection is not counted): its own crop, colour order, normalisation and
network. Threads: ML_THREADS (default 1, as one of two worker processes on two cores gets).
Also the process's peak resident memory after loading all four. Prints one JSON line last;
writes bench/results/pad_members.json.
"""

import argparse
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _harness import write_result  # noqa: E402

from ml.detection import FaceDetector  # noqa: E402
from ml.image import load_rgb  # noqa: E402
from ml.pad_members import LOADERS, MEMBERS  # noqa: E402


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    rgb = load_rgb(REPO / "fixtures" / "photos" / "biden.jpg")
    box = FaceDetector().detect(rgb)[0].box
    rss_before = peak_rss_mb()
    figures = {}
    for name in MEMBERS:
        started = time.perf_counter()
        member = LOADERS[name].load()
        load_ms = (time.perf_counter() - started) * 1000
        member.score(rgb, box)  # warm
        samples = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            member.score(rgb, box)
            samples.append((time.perf_counter() - started) * 1000)
        figures[name] = {"load_ms": round(load_ms, 1),
                         "score_ms_median": round(statistics.median(samples), 1),
                         "score_ms_max": round(max(samples), 1)}
    write_result("pad_members", {
        "bench": "pad_members",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "ml_threads": os.environ.get("ML_THREADS", "1"),
        "picture": list(rgb.shape[1::-1]),
        "members": figures,
        "all_members_score_ms": round(sum(f["score_ms_median"] for f in figures.values()), 1),
        "peak_rss_mb_before_members": rss_before,
        "peak_rss_mb_with_members": peak_rss_mb(),
    })


if __name__ == "__main__":
    main()
