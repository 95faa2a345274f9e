"""get_biz_token under gunicorn on this machine: requests/s and p50/p99 latency.

    .venv/bin/python bench/biz_token.py [--workers 2 4] [--concurrency 4 16] [--seconds 10]
        [--celery-workers 1 2] [--reference 640x480|320x400]

Real PostgreSQL (database liveness_bench) and Redis (keys prefixed bench:), a Celery worker
(the reference's face is found and embedded on every call), a still session with one face
JPEG reference (640x480 by default), one multi-use signature. Prints one line per configuration
and the figures as one JSON line last; writes bench/results/biz_token.json.
"""

import argparse
import json
import os
import platform
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))

from _harness import (  # noqa: E402
    Gunicorn,
    bench_env,
    celery_worker_start,
    ensure_database,
    http_post,
    manage,
    multipart,
    photo_jpeg,
    redis_keys_remove,
    run_load,
    write_result,
)


def reference_jpeg(kind: str) -> bytes:
    if kind == "640x480":
        return photo_jpeg("obama.jpg", (640, 480), canvas=True)
    return photo_jpeg("obama.jpg", (320, 400))


def measure(server: Gunicorn, request: bytes, concurrency: int, seconds: float,
            **labels) -> dict:
    cpu: dict = {}
    figures = run_load(server.port, request, concurrency=concurrency, duration=seconds,
                       on_measure_start=lambda: cpu.update(start=server.cpu_seconds()))
    figures["server_cpu_ms_per_request"] = round(
        (server.cpu_seconds() - cpu["start"]) * 1000 / max(1, figures["requests"]), 2)
    figures.update(labels)
    print(" ".join(f"{k}={v}" for k, v in labels.items()) + f" concurrency={concurrency}: "
          f"{figures['requests_per_s']} req/s  p50 {figures['p50_ms']} ms  "
          f"p99 {figures['p99_ms']} ms  server CPU {figures['server_cpu_ms_per_request']} ms/req  "
          f"statuses {figures['statuses']}", flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, nargs="+", default=[2, 4])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[4, 16])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--celery-workers", type=int, nargs="+", default=[1],
                        help="worker processes (prefork concurrency); one run per value")
    parser.add_argument("--reference", choices=["640x480", "320x400"], default="640x480",
                        help="640x480: obama.jpg centred on a 640x480 selfie-like canvas (the "
                             "issue's reference); 320x400: the photo shrunk to fit (before 12-06)")
    args = parser.parse_args()

    env = bench_env()
    ensure_database(env)
    credentials = json.loads(manage(env, "create_api_app", "--name", f"bench-{time.time_ns()}"))
    sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))
    from apps.tenants.signatures import sign_make

    now = int(time.time())
    sign = sign_make(credentials["api_key"], credentials["api_secret"], expire_time=now + 3600,
                     current_time=now, random="1234567890")
    body, content_type = multipart(
        {"sign": sign, "sign_version": "hmac_sha1", "liveness_type": "still",
         "comparison_type": "0", "uuid": "bench-user"},
        {"image_ref1": ("ref.jpg", reference_jpeg(args.reference), "image/jpeg")},
    )
    request = http_post("/faceid/v3/sdk/get_biz_token", body, content_type)

    runs = []
    for processes in args.celery_workers:
        worker = celery_worker_start(env, concurrency=processes)
        try:
            for workers in args.workers:
                server = Gunicorn(env, workers)
                try:
                    for concurrency in args.concurrency:
                        runs.append(measure(server, request, concurrency, args.seconds,
                                            gunicorn_workers=workers, celery_workers=processes))
                finally:
                    server.stop()
        finally:
            worker.terminate()
            worker.wait(timeout=60)
    redis_keys_remove(env)
    best = max(runs, key=lambda r: r["requests_per_s"])
    write_result("biz_token", {
        "bench": "biz_token",
        "machine": f"{platform.machine()} {os.cpu_count()} cpu",
        "request_bytes": len(request),
        "reference": args.reference,
        "best": {k: best[k] for k in ("gunicorn_workers", "celery_workers", "concurrency",
                                      "requests_per_s",
                                      "p50_ms", "p99_ms", "server_cpu_ms_per_request")},
        "runs": runs,
    })


if __name__ == "__main__":
    main()
