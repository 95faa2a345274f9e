"""verify per liveness type: latency p50/p99, throughput with 1 and 2 Celery workers, and the
ratio of end-to-end time to pure model time.

    .venv/bin/python bench/verify.py [--sessions 8] [--workers 1 2]

gunicorn (2 workers), real PostgreSQL (liveness_bench) and Redis (prefix bench:). For every
session: get_biz_token (reference obama3.jpg), the SDK's start, and a live capture of obama.jpg
rendered by the SDK mock for that session's challenge (prepared before the clock starts); then
the sessions are verified by as many concurrent clients as there are Celery worker processes.
Model time is what the worker measured inside ml/session.py (VerificationRecord.model_ms).
For still, the peer (bench/peer.py: MTCNN + SFace, detect + embed + compare per frame) then runs
in this process, while the workers idle, on every frame of the same captures against the same
reference photo: each still run prints and records its p50 and the ratios of our model time
and of the end-to-end p50 to it (the machine's speed varies between runs; the ratios are the
claim). The worker's pool processes' memory (bench/_harness.py pool_memory_mib: RSS, private,
PSS) is read once they have loaded their models and again after they served every type: a
worker's steady state, working memory included. Prints one line per run and the figures as
one JSON line last; writes bench/results/verify.json.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from _harness import (  # noqa: E402
    REPO,
    RESULTS,
    Gunicorn,
    bench_env,
    celery_worker_start,
    ensure_database,
    manage,
    photo_jpeg,
    pool_memory_mib,
    redis_keys_remove,
    write_result,
)
from peer import REFERENCE_FIT, REFERENCE_PHOTO, ratio  # noqa: E402

TYPES = ("still", "meglive", "flash", "raw_image")


@dataclass(frozen=True)
class Prepared:
    token: str
    package: bytes | None          # meglive_data; None for raw_image
    frames: tuple[bytes, ...]      # the JPEG frames sealed into it


def prepare(http, credentials, liveness_type: str, count: int) -> list[Prepared]:
    from apps.tenants.signatures import sign_make
    from liveness_sdk.capture import render
    from liveness_sdk.client import capture, jpeg, start
    from ml.image import load_rgb

    face = load_rgb(REPO / "fixtures" / "photos" / "obama.jpg")
    now = int(time.time())
    sign = sign_make(credentials["api_key"], credentials["api_secret"], expire_time=now + 3600,
                     current_time=now, random="1234567890")
    sessions = []
    for i in range(count):
        files = {"image_ref1": ("ref.jpg", photo_jpeg(REFERENCE_PHOTO, REFERENCE_FIT),
                                "image/jpeg")}
        if liveness_type == "raw_image":
            files["image"] = ("me.jpg", photo_jpeg("obama.jpg", (400, 800)), "image/jpeg")
        response = http.post("/faceid/v3/sdk/get_biz_token", files=files, data={
            "sign": sign, "sign_version": "hmac_sha1", "liveness_type": liveness_type,
            "comparison_type": "0", "uuid": f"bench-{i}", "liveness_action_count": "2"})
        token = response.json()["biz_token"]
        package, frames = None, []
        if liveness_type != "raw_image":
            # rendered here as capture(face=...) would, so the frames stay at hand for the peer
            started = start(http, token)
            frames = [(t, jpeg(rgb)) for t, rgb in render(started["challenge"], "live", face,
                                                          seed=i)]
            package = capture(started, frames=frames)
        sessions.append(Prepared(token, package, tuple(f for _, f in frames)))
    return sessions


def verify_all(url: str, credentials, sessions, concurrency: int) -> tuple[list, list, float]:
    import httpx

    from apps.tenants.signatures import sign_make

    now = int(time.time())
    sign = sign_make(credentials["api_key"], credentials["api_secret"], expire_time=now + 3600,
                     current_time=now, random="1234567890")

    def one(session: Prepared):
        files = ({"meglive_data": ("meglive_data", session.package)} if session.package
                 else None)
        with httpx.Client(base_url=url, timeout=120) as http:
            started = time.perf_counter()
            body = http.post("/faceid/v3/sdk/verify", files=files, data={
                "sign": sign, "sign_version": "hmac_sha1", "biz_token": session.token}).json()
            return time.perf_counter() - started, body["result_code"]

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        results = list(pool.map(one, sessions))
    return [r[0] for r in results], [r[1] for r in results], time.perf_counter() - started


def model_ms(tokens: list[str]) -> list[float]:
    from apps.faceid.models import VerificationRecord

    return list(VerificationRecord.objects.filter(biz_token__in=tokens)
                .values_list("model_ms", flat=True))


def peer_ms_p50(sessions: list[Prepared]) -> float:
    """The peer's median time over the sessions, each timed on every frame of its capture
    (one warm-up frame first, not counted)."""
    from peer import peer, peer_timed

    reference = peer().embedding(photo_jpeg(REFERENCE_PHOTO, REFERENCE_FIT))
    assert reference is not None, "the peer found no face in the reference"
    peer_timed(sessions[0].frames[:1], reference)
    return statistics.median(peer_timed(s.frames, reference)[0] for s in sessions)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--results-dir", type=Path, default=RESULTS,
                        help="where the figures file goes (bench/results by default)")
    args = parser.parse_args()
    import httpx

    env = bench_env()
    os.environ.update({k: env[k] for k in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL",
                                           "REDIS_URL", "REDIS_KEY_PREFIX", "SECRET_KEY")})
    import logging

    import django

    django.setup()
    logging.getLogger("httpx").setLevel(logging.WARNING)
    ensure_database(env)
    credentials = json.loads(manage(env, "create_api_app", "--name", f"bench-{time.time_ns()}"))
    server = Gunicorn(env, 2)
    runs, memories = [], []
    try:
        for workers in args.workers:
            worker = celery_worker_start(env, concurrency=workers)
            try:
                loaded = pool_memory_mib(worker)
                for liveness_type in TYPES:
                    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}",
                                      timeout=120) as http:
                        sessions = prepare(http, credentials, liveness_type, args.sessions)
                    latencies, codes, wall = verify_all(f"http://127.0.0.1:{server.port}",
                                                        credentials, sessions, workers)
                    models = model_ms([s.token for s in sessions])
                    e2e = statistics.median(latencies) * 1000
                    model = statistics.median(models) if models else None
                    figures = {
                        "liveness_type": liveness_type, "celery_workers": workers,
                        "clients": workers, "verifies": len(latencies),
                        "p50_ms": round(e2e, 1),
                        "p99_ms": round(sorted(latencies)[-1] * 1000, 1),  # max of the sample
                        "verifies_per_s": round(len(latencies) / wall, 2),
                        "model_ms_p50": round(model, 1) if model else None,
                        "end_to_end_over_model": round(e2e / model, 2) if model else None,
                        "result_codes": {str(c): codes.count(c) for c in sorted(set(codes))},
                    }
                    if liveness_type == "still":
                        peer_p50 = peer_ms_p50(sessions)
                        figures["peer_ms_p50"] = round(peer_p50, 1)
                        figures["model_over_peer"] = ratio(model, peer_p50)
                        figures["end_to_end_over_peer"] = ratio(e2e, peer_p50)
                    runs.append(figures)
                    print(json.dumps(figures), flush=True)
                memory = {"celery_workers": workers, "loaded": loaded,
                          "served": pool_memory_mib(worker)}
                memories.append(memory)
                print(json.dumps(memory), flush=True)
            finally:
                worker.terminate()
                worker.wait(timeout=60)
    finally:
        server.stop()
        redis_keys_remove(env)
    write_result("verify", {"bench": "verify",
                            "machine": f"{platform.machine()} {os.cpu_count()} cpu",
                            "sessions_per_run": args.sessions, "gunicorn_workers": 2,
                            "runs": runs, "worker_memory_mib": memories},
                 directory=args.results_dir)


if __name__ == "__main__":
    main()
