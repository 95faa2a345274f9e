"""ml/ perception on the CPU: milliseconds per stage, batch throughput, peak memory.

    .venv/bin/python bench/perception.py [--repeat 10]

Frames are the offline photo obama.jpg letterboxed into 640x480 and 1920x1080 canvases (one
face each), and t1.jpg (six faces). Stages: detection (MTCNN, including its downscale to
1024 px), quality, embedding (SFace), attributes (age, gender, expression, glasses, face type), and
the whole analysis with embeddings. Peak memory is
the process's high-water RSS (VmHWM) with every model loaded and used. Prints the figures as
one JSON line last; writes bench/results/perception.json.

Per picture it also times one verification, ours against the peer (bench/peer.py) on the same
JPEG of the frame in this same process: decode, detect, embed the largest face, compare it with
a reference embedding (obama3.jpg). Ours is our detector and embedder; the peer is MTCNN with
its defaults and SFace's own alignment. Recorded with the ratio ours / peer (`ours_over_peer`).

It also starts a real Celery worker (one pool process, `ML_WARM_WORKERS=1`, on the local Redis)
and reads that pool process's memory once its models are loaded: the figure a deployment
plans with.
"""

import argparse
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _harness import RESULTS, photo_jpeg, write_result  # noqa: E402
from peer import REFERENCE_FIT, REFERENCE_PHOTO, peer, peer_timed, ratio  # noqa: E402

from liveness_sdk.client import jpeg  # noqa: E402
from ml.image import load_rgb  # noqa: E402
from ml.pipeline import perception  # noqa: E402
from ml.quality import face_quality  # noqa: E402
from ml.similarity import comparison_of  # noqa: E402


def rss_mib(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def letterbox(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    import cv2

    scale = min(width / rgb.shape[1], height / rgb.shape[0])
    resized = cv2.resize(rgb, (int(rgb.shape[1] * scale), int(rgb.shape[0] * scale)),
                         interpolation=cv2.INTER_AREA)
    canvas = np.full((height, width, 3), 90, dtype=np.uint8)
    top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[top:top + resized.shape[0], left:left + resized.shape[1]] = resized
    return canvas


def worker_memory_mib() -> dict:
    """RSS and peak RSS of a Celery pool process after it has loaded every model, and its RSS
    split into anonymous pages (heap, weights, working memory) and file pages (the libraries'
    code and read-only data, which the kernel can drop and read again)."""
    import subprocess

    from _harness import bench_env

    env = bench_env(ML_WARM_WORKERS="1", CELERY_QUEUE="bench-perception")
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "liveness_project", "worker",
         "--concurrency=1", "--loglevel=INFO", "--hostname=bench-perception@%h"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert worker.stdout is not None  # stdout=PIPE
    try:
        deadline = time.monotonic() + 180
        for line in worker.stdout:
            found = re.search(r"models loaded in worker process (\d+)", line)
            if found:
                pid = int(found.group(1))
                break
            if time.monotonic() > deadline:
                raise RuntimeError("the worker did not load its models in time")
        else:
            raise RuntimeError("the worker exited before loading its models")
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
        fields = {line.split(":")[0]: int(line.split()[1]) / 1024 for line in status
                  if line.startswith(("VmRSS", "VmHWM", "RssAnon", "RssFile"))}
        return {"rss_mib": round(fields["VmRSS"], 1), "peak_rss_mib": round(fields["VmHWM"], 1),
                "anonymous_mib": round(fields["RssAnon"], 1),
                "file_mib": round(fields["RssFile"], 1)}
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def timed(function, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--results-dir", type=Path, default=RESULTS,
                        help="where the figures file goes (bench/results by default)")
    args = parser.parse_args()
    import torch

    started = time.perf_counter()
    pipeline = perception()
    load_ms = round((time.perf_counter() - started) * 1000)
    photos = REPO / "fixtures" / "photos"
    face_photo = load_rgb(photos / "obama.jpg")
    frames = {"640x480": letterbox(face_photo, 640, 480),
              "1920x1080": letterbox(face_photo, 1920, 1080),
              "t1 (1280x886, 6 faces)": load_rgb(photos / "t1.jpg")}
    reference_jpeg = photo_jpeg(REFERENCE_PHOTO, REFERENCE_FIT)
    reference = pipeline.analyze(load_rgb(reference_jpeg), embeddings=True).faces[0].embedding
    peer_reference = peer().embedding(reference_jpeg)
    assert reference is not None and peer_reference is not None, "no face in the reference"

    def ours_verify_one_face(picture: bytes) -> None:
        rgb = load_rgb(picture)
        found = pipeline.detector.detect(rgb)
        comparison_of(reference, pipeline.embedder.embed(rgb, found[0]), model="sface")

    stages: dict[str, dict[str, float | None]] = {}
    for label, frame in frames.items():
        pipeline.analyze(frame, embeddings=True, attributes=True)  # warm
        faces = pipeline.detector.detect(frame)
        face = faces[0]
        stages[label] = {
            "faces": len(faces),
            "detect_ms": timed(lambda f=frame: pipeline.detector.detect(f), args.repeat),
            "quality_ms_per_face": timed(lambda f=frame, x=face: face_quality(f, x), args.repeat),
            "embed_ms_per_face": timed(lambda f=frame, x=face: pipeline.embedder.embed(f, x),
                                       args.repeat),
            "attributes_ms_per_face": timed(
                lambda f=frame, x=face: pipeline.attribute_models.attributes(f, x), args.repeat),
            "analyze_all_faces_ms": timed(lambda f=frame: pipeline.analyze(f, embeddings=True),
                                          args.repeat),
        }
        picture = jpeg(frame, quality=90)
        ours_verify_one_face(picture)  # warm
        peer_timed([picture], peer_reference)
        ours_ms = timed(lambda p=picture: ours_verify_one_face(p), args.repeat)
        peer_ms = timed(lambda p=picture: peer_timed([p], peer_reference), args.repeat)
        stages[label].update({"verify_one_face_ms": ours_ms, "peer_verify_one_face_ms": peer_ms,
                              "ours_over_peer": ratio(ours_ms, peer_ms)})
        print(label, stages[label], flush=True)

    batch = [frames["640x480"]] * 20
    started = time.perf_counter()
    for frame in batch:
        pipeline.analyze(frame, embeddings=True)
    throughput = round(len(batch) / (time.perf_counter() - started), 2)
    write_result("perception", {
        "bench": "perception",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "torch_threads": torch.get_num_threads(),
        "device": "cpu",
        "models_load_ms": load_ms,
        "stages": stages,
        "batch_640x480_images_per_s": throughput,
        "peak_rss_mib": rss_mib("VmHWM"),
        "celery_worker_process_with_models": worker_memory_mib(),
    }, directory=args.results_dir)


if __name__ == "__main__":
    main()
