"""FaceID Lite (the web flow, docs/WEB.md): time from the capture page's upload to the client's
notify_url receiving the signed result, on one Celery worker process.

    .venv/bin/python bench/lite_notify.py [--sessions 6] [--types still meglive]

gunicorn (2 workers), one Celery worker (it runs the models and the callback), real PostgreSQL
(liveness_bench) and Redis (prefix bench:), and a small HTTP receiver on 127.0.0.1 standing for
the client's server (LITE_NOTIFY_ALLOWED_NETWORKS lets the callback reach it). For every session,
prepared before the clock starts: get_token with a reference photo (obama3.jpg), the page
(`GET /faceid/lite/do`, its page key read from the page as the page's script reads it), the
page's start, and a live capture of obama.jpg rendered by the SDK mock for that challenge and
sealed as the page seals it. Then, one session at a time: the page's upload
(`POST /faceid/lite/page/verify`) is timed to the page's answer ("done") and to the moment the
receiver has the notify. Every notify's sign is checked (sha1(api_secret + data)) and its
result must be 1000. Prints one line per type and the figures as one JSON line last; writes
bench/results/lite_notify.json.
"""

import argparse
import hashlib
import json
import os
import platform
import re
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

sys.path.insert(0, os.path.dirname(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))

from _harness import (  # noqa: E402
    REPO,
    Gunicorn,
    bench_env,
    celery_worker_start,
    ensure_database,
    manage,
    photo_jpeg,
    redis_keys_remove,
    write_result,
)
from peer import REFERENCE_FIT, REFERENCE_PHOTO  # noqa: E402

PAGE_CONFIG = re.compile(r'<script id="lite-config" type="application/json">(.*?)</script>', re.S)


class Receiver:
    """The client's notify_url: records when each biz_no's callback arrived, and its fields."""

    def __init__(self):
        self.arrived: dict[str, tuple[float, dict, str, str]] = {}  # at, body, sign, data
        self.changed = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - the http.server name
                at = time.perf_counter()
                length = int(self.headers.get("Content-Length", 0))
                fields = parse_qs(self.rfile.read(length).decode())
                data = fields.get("data", [""])[0]
                body = json.loads(data) if data else {}
                biz_no = body.get("biz_info", {}).get("biz_no", "")
                with receiver.changed:   # the first delivery counts
                    receiver.arrived.setdefault(biz_no, (at, body, fields.get("sign", [""])[0],
                                                         data))
                    receiver.changed.notify_all()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, biz_no: str, timeout: float) -> tuple[float, dict, str, str]:
        with self.changed:
            self.changed.wait_for(lambda: biz_no in self.arrived, timeout=timeout)
            if biz_no not in self.arrived:
                raise RuntimeError(f"no notify for {biz_no} within {timeout} s")
            return self.arrived[biz_no]


def prepare(http, credentials, notify_url: str, liveness_type: str, count: int) -> list[dict]:
    from liveness_sdk.capture import render
    from liveness_sdk.client import capture, jpeg
    from ml.image import load_rgb

    face = load_rgb(REPO / "fixtures" / "photos" / "obama.jpg")
    sessions = []
    for i in range(count):
        biz_no = f"bench-{liveness_type}-{time.time_ns()}-{i}"
        response = http.post("/faceid/lite/get_token", data={
            "api_key": credentials["api_key"], "api_secret": credentials["api_secret"],
            "return_url": "https://bank.example/lite/done", "notify_url": notify_url,
            "biz_no": biz_no, "comparison_type": "0", "uuid": f"bench-{i}",
            "liveness_type": liveness_type,
            "liveness_action_count": "2",
        }, files={"image_ref1": ("ref.jpg", photo_jpeg(REFERENCE_PHOTO, REFERENCE_FIT),
                                 "image/jpeg")})
        if response.status_code != 200:
            raise RuntimeError(f"get_token: HTTP {response.status_code} {response.text}")
        page = http.get("/faceid/lite/do", params={"token": response.json()["token"]})
        found = PAGE_CONFIG.search(page.text)
        if page.status_code != 200 or not found:
            raise RuntimeError(f"the capture page: HTTP {page.status_code}")
        page_key = json.loads(found.group(1))["page_key"]
        started = http.post("/faceid/lite/page/start", data={"page_key": page_key}).json()
        frames = [(t, jpeg(rgb)) for t, rgb in render(started["challenge"], "live", face, seed=i)]
        sessions.append({"biz_no": biz_no, "page_key": page_key,
                         "package": capture(started, frames=frames)})
    return sessions


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--types", nargs="+", default=["still", "meglive"],
                        choices=["still", "meglive", "flash"])
    args = parser.parse_args()

    import httpx

    receiver = Receiver()
    env = bench_env(LITE_NOTIFY_ALLOWED_NETWORKS="127.0.0.1/32")
    ensure_database(env)
    credentials = json.loads(manage(env, "create_api_app", "--name", f"bench-{time.time_ns()}"))
    notify_url = f"http://127.0.0.1:{receiver.port}/lite/notify"
    worker = celery_worker_start(env, concurrency=1)
    server = Gunicorn(env, 2)
    figures: dict = {"bench": "lite_notify", "machine": f"{platform.machine()} {os.cpu_count()} cpu",
                     "celery_workers": 1, "gunicorn_workers": 2, "sessions": args.sessions}
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", timeout=120) as http:
            for liveness_type in args.types:
                sessions = prepare(http, credentials, notify_url, liveness_type, args.sessions)
                to_answer, to_notify, results = [], [], []
                for session in sessions:
                    started = time.perf_counter()
                    answer = http.post("/faceid/lite/page/verify",
                                       data={"page_key": session["page_key"]},
                                       files={"meglive_data": ("meglive_data",
                                                               session["package"])})
                    answered = time.perf_counter()
                    if answer.status_code != 200 or not answer.json().get("done"):
                        raise RuntimeError(f"page verify: HTTP {answer.status_code} {answer.text}")
                    arrived, body, sign, data = receiver.wait(session["biz_no"], timeout=60)
                    expected = hashlib.sha1((credentials["api_secret"] + data).encode()).hexdigest()
                    if sign != expected:
                        raise RuntimeError(f"notify for {session['biz_no']}: bad sign")
                    to_answer.append((answered - started) * 1000)
                    to_notify.append((arrived - started) * 1000)
                    results.append(str(body.get("result_code", body.get("status"))))
                figures[liveness_type] = {
                    "upload_to_page_answer_ms_p50": round(statistics.median(to_answer), 1),
                    "upload_to_notify_ms_p50": round(statistics.median(to_notify), 1),
                    "upload_to_notify_ms_max": round(max(to_notify), 1),
                    "results": {r: results.count(r) for r in sorted(set(results))},
                }
                print(liveness_type, figures[liveness_type], flush=True)
    finally:
        server.stop()
        worker.terminate()
        worker.wait(timeout=60)
        redis_keys_remove(env)
        receiver.server.shutdown()
    write_result("lite_notify", figures)


if __name__ == "__main__":
    main()
