"""The embedded single-machine run: Redis (ours if none is configured or answering), a Celery
worker and gunicorn, started and stopped together. Used by `manage.py run_embedded`."""

import hashlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import redis


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout,
                                         socket_timeout=timeout).ping())
    except redis.RedisError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (the OS's pick)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


@dataclass
class EmbeddedStack:
    var_dir: Path
    bind: str
    workers: int
    worker_concurrency: int
    probe_redis_port: int = 6379
    own_redis_port: int = 6390
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    log: Callable[[str], None] = print

    def resolve_redis_url(self) -> str:
        """REDIS_URL if set; else a Redis answering on the default port; else our own."""
        if os.environ.get("REDIS_URL"):
            return os.environ["REDIS_URL"]
        default_url = f"redis://127.0.0.1:{self.probe_redis_port}/0"
        if redis_answers(default_url):
            self.log(f"using the Redis answering at {default_url}")
            return default_url
        return self._start_own_redis()

    def _start_own_redis(self) -> str:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("no Redis answers and redis-server is not installed "
                               "(apt-get install redis-server), or set REDIS_URL")
        url = f"redis://127.0.0.1:{self.own_redis_port}/0"
        if not port_free(self.own_redis_port):
            if redis_answers(url):
                self.log(f"reusing the Redis already on port {self.own_redis_port}")
                return url
            raise RuntimeError(f"port {self.own_redis_port} is taken by something that is "
                               "not Redis; set EMBEDDED_REDIS_PORT")
        data_dir = self.var_dir / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        self.processes["redis"] = subprocess.Popen(
            [binary, "--port", str(self.own_redis_port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(data_dir)],
            stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not redis_answers(url):
            if time.monotonic() > deadline or self.processes["redis"].poll() is not None:
                raise RuntimeError("the embedded redis-server did not start")
            time.sleep(0.1)
        self.log(f"started an embedded Redis at {url}")
        return url

    def deployment_namespace(self) -> dict[str, str]:
        """This deployment's Redis key prefix and Celery queue, unless the environment names
        them. The Redis an embedded run finds (on the probed port, or an embedded one another
        checkout started) may serve another deployment: with the shared defaults, one would
        run the other's tasks with its own database and read the other's sessions. Derived
        from the var folder, so a restart of the same deployment keeps its sessions."""
        tag = hashlib.sha256(str(self.var_dir.resolve()).encode()).hexdigest()[:10]
        return {"REDIS_KEY_PREFIX": os.environ.get("REDIS_KEY_PREFIX") or f"lv-{tag}:",
                "CELERY_QUEUE": os.environ.get("CELERY_QUEUE") or f"liveness-{tag}"}

    def child_env(self, redis_url: str) -> dict[str, str]:
        metrics_dir = self.var_dir / "prometheus"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        namespace = self.deployment_namespace()
        self.log(f"Redis keys under {namespace['REDIS_KEY_PREFIX']!r}, tasks on queue "
                 f"{namespace['CELERY_QUEUE']!r}")
        return {**os.environ, "REDIS_URL": redis_url, **namespace,
                "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
                "LIVENESS_VAR_DIR": str(self.var_dir)}

    def start(self, env: dict[str, str]) -> None:
        python = sys.executable
        self.processes["worker"] = subprocess.Popen(
            [python, "-m", "celery", "-A", "liveness_project", "worker", "--loglevel=INFO",
             f"--concurrency={self.worker_concurrency}", "--hostname=embedded@%h",
             # one machine: the worker also runs the periodic tasks (media purge)
             "--beat", f"--schedule={self.var_dir / 'celerybeat-schedule'}"],
            env=env,
        )
        self.processes["web"] = subprocess.Popen(
            [python, "-m", "gunicorn", "liveness_project.wsgi:application",
             "-c", str(Path(__file__).resolve().parents[2] / "liveness_project" /
                       "gunicorn_conf.py"),
             "--bind", self.bind, "--workers", str(self.workers)],
            env=env,
        )
        self.log(f"web on http://{self.bind}  (worker and web starting; \"ready\" follows once a "
                 "worker has loaded its models; Ctrl-C stops all)")

    def wait(self) -> int:
        """Blocks until a signal or until any child exits; then stops the rest."""
        stop = {"flag": False}

        def on_signal(signum, _frame):
            stop["flag"] = True

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)
        code, announced, next_probe = 0, False, 0.0
        while not stop["flag"]:
            if not announced and time.monotonic() >= next_probe:
                announced, next_probe = self.ready(), time.monotonic() + 1.0
                if announced:
                    self.log(f"ready: http://{self.probe_address()}/ answers, and a worker "
                             "has loaded its models")
            for name, process in self.processes.items():
                if process.poll() is not None:
                    self.log(f"{name} exited with {process.returncode}; stopping")
                    code = process.returncode or 1
                    stop["flag"] = True
                    break
            time.sleep(0.3)
        self.stop()
        return code

    def probe_address(self) -> str:
        host, _, port = self.bind.rpartition(":")
        return f"{'127.0.0.1' if host in ('0.0.0.0', '', '[::]') else host}:{port}"

    def ready(self) -> bool:
        """/readyz answers 200: the database and Redis answer and a worker beats, which it
        does only once a pool process has loaded its models (liveness_project/celery.py)."""
        try:
            with urllib.request.urlopen(f"http://{self.probe_address()}/readyz",
                                        timeout=2) as answer:
                return answer.status == 200
        except (OSError, ValueError):       # not listening yet, or 503 (HTTPError)
            return False

    def stop(self) -> None:
        order = [n for n in ("web", "worker", "redis") if n in self.processes]
        for name in order:
            if self.processes[name].poll() is None:
                self.processes[name].send_signal(signal.SIGTERM)
        for name in order:
            try:
                self.processes[name].wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.processes[name].kill()
