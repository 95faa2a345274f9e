"""Shared pieces of the bench scripts: a bench database, a gunicorn to load, a load generator.

The load generator is a small asyncio HTTP/1.1 client (one connection per request, as the sync
gunicorn workers close after each answer). It runs on the same 2-core machine as the server,
so the figures are what one box does with its client included.
"""

import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from apps.core.embedded import free_port  # noqa: E402  (plain Python: no Django set up)


def bench_env(**extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "liveness_project.settings",
        "DATABASE_URL": os.environ.get("BENCH_DATABASE_URL",
                                       "postgres://postgres@127.0.0.1:5432/liveness_bench"),
        "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        "REDIS_KEY_PREFIX": "bench:",
        "SECRET_KEY": "bench-secret-key-" + "b" * 40,
        "LOG_LEVEL": "WARNING",
        "CELERY_QUEUE": "bench",
    }
    env.update(extra)
    return env


def ensure_database(env: dict[str, str]) -> None:
    """A migrated, empty bench database and no bench keys in Redis, so runs are comparable."""
    name = env["DATABASE_URL"].rsplit("/", 1)[1]
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-c", f"CREATE DATABASE {name}"],
                   capture_output=True)
    manage(env, "migrate", "--noinput")
    manage(env, "flush", "--noinput")
    redis_keys_remove(env)


def redis_keys_remove(env: dict[str, str]) -> None:
    """Removes every key the bench wrote (its sessions would otherwise live an hour)."""
    import redis

    client = redis.Redis.from_url(env["REDIS_URL"])
    for key in client.scan_iter(match=env["REDIS_KEY_PREFIX"] + "*", count=1000):
        client.delete(key)


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True).stdout


class Gunicorn:
    def __init__(self, env: dict[str, str], workers: int):
        self.port = free_port()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "liveness_project.wsgi:application",
             "-c", str(REPO / "liveness_project" / "gunicorn_conf.py"),
             "--bind", f"127.0.0.1:{self.port}", "--workers", str(workers)],
            cwd=REPO, env=env,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("gunicorn did not start")

    def cpu_seconds(self) -> float:
        """User + system CPU of the master and its workers so far (Linux /proc)."""
        ticks = os.sysconf("SC_CLK_TCK")
        pids = [self.process.pid] + [
            int(p) for p in subprocess.run(["pgrep", "-P", str(self.process.pid)],
                                           capture_output=True, text=True).stdout.split()]
        total = 0.0
        for pid in pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks
        return total

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def celery_worker_start(env: dict, concurrency: int = 1) -> subprocess.Popen:
    """A Celery worker on the bench queue; returns once it answered a ping."""
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "liveness_project", "worker", "--loglevel",
         "WARNING", "--concurrency", str(concurrency), "--queues", env["CELERY_QUEUE"], "--without-gossip",
         "--without-mingle", "--hostname", f"bench-{time.time_ns()}@%h"],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL)
    ping = [sys.executable, "-c", "from liveness_project.celery import app;"
            "print(app.send_task('core.ping').get(timeout=120))"]
    subprocess.run(ping, cwd=REPO, env=env, check=True, capture_output=True, timeout=180)
    # The web refuses model work until a worker's heartbeat says it loaded its models (the
    # ping can be answered before that): wait for the beat, as a deployment's /readyz would.
    beating = [sys.executable, "-c", "import time, django; django.setup();"
               "from apps.analysis.workers import workers_alive;"
               "deadline = time.monotonic() + 120\n"
               "while not workers_alive() and time.monotonic() < deadline: time.sleep(0.2)\n"
               "assert workers_alive(), 'no worker heartbeat'"]
    subprocess.run(beating, cwd=REPO, env=env, check=True, capture_output=True, timeout=180)
    return process


def pool_memory_mib(worker: subprocess.Popen) -> dict:
    """The memory of a Celery worker's pool processes (the children of its main process, each
    holding every model), from /proc/PID/smaps_rollup: each one's RSS, its anonymous pages (the
    heap, the models' weights and working memory: what no file backs, and what the kernel can
    only free by swapping), its private pages (what that process alone holds: its anonymous
    pages and the library pages no other process maps) and its PSS (shared pages, the
    libraries' code above all, divided among the processes mapping them); and the PSS of the
    pool and the main process together: what the machine gives this worker."""
    def rollup(pid: int) -> dict[str, float]:
        fields = {}
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()[1:]:
            name, value = line.split()[:2]
            fields[name.rstrip(":")] = int(value) / 1024
        return fields

    children = Path(f"/proc/{worker.pid}/task/{worker.pid}/children").read_text().split()
    pools = [rollup(int(pid)) for pid in children]
    main = rollup(worker.pid)
    return {
        "processes": [{"rss": round(f["Rss"], 1), "anonymous": round(f["Anonymous"], 1),
                       "private": round(f["Private_Clean"] + f["Private_Dirty"], 1),
                       "pss": round(f["Pss"], 1)} for f in pools],
        "main_process_pss": round(main["Pss"], 1),
        "total_pss": round(main["Pss"] + sum(f["Pss"] for f in pools), 1),
    }


def photo_jpeg(name: str, fit: tuple[int, int], *, canvas: bool = False) -> bytes:
    """A fixtures photo shrunk to fit `fit` (w, h), as JPEG; with canvas, centred on a grey
    picture of exactly that size (a phone-like selfie)."""
    import io

    from PIL import Image

    photo = Image.open(REPO / "fixtures" / "photos" / name).convert("RGB")
    photo.thumbnail(fit)
    if canvas:
        framed = Image.new("RGB", fit, (128, 128, 128))
        framed.paste(photo, ((fit[0] - photo.width) // 2, 0))
        photo = framed
    buffer = io.BytesIO()
    photo.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def multipart(fields: dict[str, str], files: dict[str, tuple[str, bytes, str]]) -> tuple[bytes, str]:
    boundary = "benchboundary7MA4YWxkTrZu0gW"
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, (filename, data, content_type) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'.encode()
                     + data + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


async def _one(port: int, request: bytes) -> tuple[float, int]:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    response = await reader.read()
    writer.close()
    status = int(response[9:12]) if response[:5] == b"HTTP/" else 0
    return time.perf_counter() - started, status


async def _load(port: int, request: bytes, concurrency: int, duration: float) -> list:
    results: list[tuple[float, int]] = []
    stop_at = time.perf_counter() + duration

    async def user():
        while time.perf_counter() < stop_at:
            results.append(await _one(port, request))

    await asyncio.gather(*(user() for _ in range(concurrency)))
    return results


def http_post(path: str, body: bytes, content_type: str) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


def run_load(port: int, request: bytes, *, concurrency: int, duration: float,
             warmup: float = 2.0, on_measure_start=None) -> dict:
    asyncio.run(_load(port, request, concurrency, warmup))
    if on_measure_start is not None:
        on_measure_start()
    started = time.perf_counter()
    results = asyncio.run(_load(port, request, concurrency, duration))
    elapsed = time.perf_counter() - started
    latencies = sorted(r[0] for r in results)
    statuses: dict[str, int] = {}
    for _, status in results:
        statuses[str(status)] = statuses.get(str(status), 0) + 1
    quantiles = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(results),
        "seconds": round(elapsed, 2),
        "requests_per_s": round(len(results) / elapsed, 1),
        "p50_ms": round(quantiles[49] * 1000, 2),
        "p99_ms": round(quantiles[98] * 1000, 2),
        "statuses": statuses,
        "concurrency": concurrency,
    }


def write_result(name: str, figures: dict, directory: Path = RESULTS) -> None:
    """Writes `directory/<name>.json` (bench/results by default: a test writes elsewhere so
    that the recorded figures stay the ones of a real run) and prints the figures."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.json").write_text(json.dumps(figures, indent=2) + "\n")
    print(json.dumps(figures))
