"""Where get_biz_token's reference check spends its time, stage by stage, in one process.

    .venv/bin/python bench/reference_check.py [--repeat 200] [--threads 1]

The reference is bench/biz_token.py's default: obama.jpg in a 640x480 selfie (a JPEG). Each
stage of `ml.session.reference_analyse` (what a worker runs for every reference photo) is timed
alone on the same picture, then the whole call: JPEG decode, YuNet's proposals, the proposals
confirmed by MTCNN (the whole upright detection, YuNet included), the face's quality, its SFace
embedding and the small crop kept for review. Library threads are fixed (one by default: a
worker process's share when two run on two cores). Medians of CPU time (the process's, every
thread) and wall time. Run it from two checkouts one after the other to compare them: this
machine's speed moves ±20 % between hours. Prints the figures as one JSON line last and
writes bench/results/reference_check.json (or --results-dir).
"""

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from _harness import RESULTS, photo_jpeg, write_result  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args()
    os.environ["ML_THREADS"] = str(args.threads)     # onnxruntime's sessions read it

    from ml.device import threads_limit
    from ml.image import load_rgb
    from ml.pipeline import perception
    from ml.quality import face_quality
    from ml.review_images import face_crop_jpeg
    from ml.session import reference_analyse

    threads_limit(args.threads)
    pipeline = perception()
    jpeg = photo_jpeg("obama.jpg", (640, 480), canvas=True)
    rgb = load_rgb(jpeg)
    detection = pipeline.detector.detect_oriented(rgb, multi_oriented=False,
                                                  proposer=pipeline.proposer)
    if not detection.faces:
        raise SystemExit("no face found in the reference: fixtures/photos are needed")
    face = detection.faces[0]

    stages = {
        "decode": lambda: load_rgb(jpeg),
        "yunet_propose": lambda: pipeline.proposer.propose(rgb),
        "detect_proposed": lambda: pipeline.detector.detect_oriented(
            rgb, multi_oriented=False, proposer=pipeline.proposer),
        "quality": lambda: face_quality(rgb, face),
        "embed": lambda: pipeline.embedder.embed(rgb, face),
        "review_crop": lambda: face_crop_jpeg(rgb, face.box),
        "reference_analyse": lambda: reference_analyse(jpeg, multi_oriented=False),
    }
    figures: dict = {"repeat": args.repeat, "threads": args.threads,
                     "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                     "date": time.strftime("%Y-%m-%d %H:%M"), "cpu_ms": {}, "wall_ms": {}}
    for name, stage in stages.items():
        stage()
        cpu, wall = [], []
        for _ in range(args.repeat):
            started_cpu, started = time.process_time(), time.perf_counter()
            stage()
            cpu.append((time.process_time() - started_cpu) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
        figures["cpu_ms"][name] = round(statistics.median(cpu), 2)
        figures["wall_ms"][name] = round(statistics.median(wall), 2)
        print(f"{name:18s} cpu {figures['cpu_ms'][name]:7.2f} ms   "
              f"wall {figures['wall_ms'][name]:7.2f} ms", flush=True)
    write_result("reference_check", figures, args.results_dir)


if __name__ == "__main__":
    main()
