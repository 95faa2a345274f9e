"""The single-image APIs (seeds 000, 001, 002) with one Celery worker: requests/s, p50/p99.

    .venv/bin/python bench/single_image.py [--concurrency 1 4] [--seconds 15]

gunicorn (2 workers) in front, one Celery worker process (models loaded), real PostgreSQL
(database liveness_bench) and Redis (keys prefixed bench:). Each request carries the same
640 x 480 JPEG of a face (obama.jpg scaled, ~60 kB). Also measures the models alone in this
process on that picture, so the web + broker overhead can be read off. Prints one line per run
and the figures as one JSON line last; writes bench/results/single_image.json.
"""

import argparse
import base64
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _harness import (  # noqa: E402
    REPO,
    Gunicorn,
    bench_env,
    celery_worker_start,
    ensure_database,
    manage,
    photo_jpeg,
    redis_keys_remove,
    run_load,
    write_result,
)


def json_request(path: str, body: dict, headers: dict[str, str]) -> bytes:
    payload = json.dumps(body).encode()
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"{head}Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n").encode() + payload


def model_time_ms(picture: bytes, attributes: bool, repeats: int = 15) -> float:
    sys.path.insert(0, str(REPO))
    from ml.image import load_rgb
    from ml.still import still_analyse

    still_analyse(load_rgb(picture), attributes=attributes)   # warm
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        still_analyse(load_rgb(picture), attributes=attributes)
        times.append((time.perf_counter() - started) * 1000)
    return round(sorted(times)[len(times) // 2], 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()

    env = bench_env()
    ensure_database(env)
    credentials = json.loads(manage(env, "create_api_app", "--name", f"bench-{time.time_ns()}"))
    picture = photo_jpeg("obama.jpg", (640, 480), canvas=True)
    encoded = base64.b64encode(picture).decode()
    auth = {"Authorization": f"APPCODE {credentials['app_code']}"}
    requests = {
        "seed000 /biap/face/bio-detection": json_request("/biap/face/bio-detection", {
            "request_id": "bench", "file": {"data": encoded, "type": "jpeg"}}, auth),
        "seed001 /api/face_liveness/v1": json_request(
            "/api/face_liveness/v1", {"image_base64": encoded}, auth),
        "seed002 /api/image_liveness": json_request(
            "/api/image_liveness", {"image": encoded}, auth),
    }
    worker = celery_worker_start(env)
    server = Gunicorn(env, 2)
    runs = []
    try:
        for name, request in requests.items():
            for concurrency in args.concurrency:
                figures = run_load(server.port, request, concurrency=concurrency,
                                   duration=args.seconds)
                figures["endpoint"] = name
                runs.append(figures)
                print(f"{name} concurrency={concurrency}: {figures['requests_per_s']} req/s  "
                      f"p50 {figures['p50_ms']} ms  p99 {figures['p99_ms']} ms  "
                      f"statuses {figures['statuses']}", flush=True)
    finally:
        server.stop()
        worker.terminate()
        worker.wait(timeout=60)
        redis_keys_remove(env)
    models = {"still_analyse_ms": model_time_ms(picture, attributes=False),
              "still_analyse_with_attributes_ms": model_time_ms(picture, attributes=True)}
    print(f"models alone in one process: {models}", flush=True)
    write_result("single_image", {
        "bench": "single_image",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "picture_bytes": len(picture),
        "celery_workers": 1,
        "gunicorn_workers": 2,
        "models_alone": models,
        "runs": runs,
    })


if __name__ == "__main__":
    main()
