import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection

from apps.core.embedded import free_port
from apps.core.redis import redis_client
from apps.tenants.services import api_app_create

from .images import face_image
from .vendor_client import vendor_sign

REPO = Path(__file__).resolve().parent.parent
GET_BIZ_TOKEN = "/faceid/v3/sdk/get_biz_token"


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="session", autouse=True)
def _redis_keys_of_this_run_are_removed() -> Iterator[None]:
    yield
    client = redis_client()
    for key in client.scan_iter(match=settings.REDIS_KEY_PREFIX + "*", count=1000):
        client.delete(key)


@dataclass
class Tenant:
    """A named test persona: an app with its clear credentials."""

    app: object
    api_key: str
    api_secret: str
    app_code: str

    def sign(self, **kwargs) -> str:
        return vendor_sign(self.api_key, self.api_secret, **kwargs)


@pytest.fixture
def make_tenant(db):
    counter = {"n": 0}

    def make(**options) -> Tenant:
        counter["n"] += 1
        options.setdefault("name", f"tenant-{counter['n']}-{time.monotonic_ns()}")
        app, credentials = api_app_create(**options)
        return Tenant(app=app, api_key=app.api_key, api_secret=credentials.api_secret,
                      app_code=credentials.app_code)

    return make


@pytest.fixture
def acme(make_tenant) -> Tenant:
    """An ordinary bank customer: may verify, no KYC, no limits."""
    return make_tenant(name="acme-bank")


@pytest.fixture
def staff_client(client, db):
    """Django's test client logged in as a superuser, for the admin's pages."""
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    return client


REFERENCE_FACE = face_image()


def still_form(tenant: Tenant, **overrides) -> dict:
    """A valid comparison_type=0 still request; pass None to drop a field."""
    form = {
        "sign": tenant.sign(),
        "sign_version": "hmac_sha1",
        "liveness_type": "still",
        "comparison_type": "0",
        "uuid": "user-42",
        "image_ref1": ("ref1.jpg", REFERENCE_FACE, "image/jpeg"),
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def split_form(form: dict) -> tuple[dict, dict]:
    """(data, files) for httpx: tuples are files, the rest are text fields."""
    data = {k: v for k, v in form.items() if not isinstance(v, tuple)}
    files = {k: v for k, v in form.items() if isinstance(v, tuple)}
    return data, files


@pytest.fixture
def post_form(client, celery_worker):
    """Posts a form (dict with (name, bytes, type) tuples for files) through Django's client."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    def post(form: dict, path: str = GET_BIZ_TOKEN, **extra):
        payload = {k: (SimpleUploadedFile(v[0], v[1], content_type=v[2])
                       if isinstance(v, tuple) else v) for k, v in form.items()}
        return client.post(path, payload, **extra)

    return post


def _server_env(extra: dict | None = None) -> dict:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DB_CONN_MAX_AGE": "0",
        "DJANGO_SETTINGS_MODULE": "liveness_project.settings",
    }
    env.update(extra or {})
    return env


@dataclass
class Server:
    url: str
    process: subprocess.Popen

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, **{"timeout": 30, **kwargs})


@pytest.fixture
def start_gunicorn(transactional_db, celery_worker):
    """Starts real gunicorn processes on the test database; stops them after the test."""
    started: list[subprocess.Popen] = []

    def start(workers: int = 2, env: dict | None = None, output: Path | None = None) -> Server:
        port = free_port()
        sink = open(output, "ab") if output is not None else None  # noqa: SIM115
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "liveness_project.wsgi:application",
             "-c", str(REPO / "liveness_project" / "gunicorn_conf.py"),
             "--bind", f"127.0.0.1:{port}", "--workers", str(workers)],
            cwd=REPO, env=_server_env(env), stdout=sink, stderr=subprocess.STDOUT if sink else None,
        )
        if sink is not None:
            sink.close()
        started.append(process)
        url = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert process.poll() is None, "gunicorn exited"
            try:
                return httpx.get(url + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, 30, "gunicorn to answer /healthz")
        return Server(url=url, process=process)

    yield start
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


@dataclass
class Worker:
    process: subprocess.Popen
    hostname: str = ""          # its node name, e.g. for `control.inspect(destination=...)`

    def stop(self, sig=None) -> None:
        if self.process.poll() is None:
            self.process.terminate() if sig is None else self.process.send_signal(sig)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_celery_worker(concurrency: int = 1, env: dict | None = None,
                        output: Path | None = None) -> Worker:
    """A real Celery worker on this run's queue (tests/settings.py; env's CELERY_QUEUE for a
    worker of its own), models warmed at start; returns once it has answered a ping. With
    `output`, everything it prints (its logs) goes to that file."""
    from celery import Celery

    redis_url = (env or {}).get("REDIS_URL", settings.REDIS_URL)
    queue = (env or {}).get("CELERY_QUEUE", settings.CELERY_TASK_DEFAULT_QUEUE)
    # ping through this worker's own broker and queue, with an app that does not become the
    # current one (shared tasks would then be sent to this worker's queue)
    app = Celery(broker=redis_url, backend=redis_url, set_as_current=False)
    app.conf.task_default_queue = queue
    sink = open(output, "ab") if output is not None else None  # noqa: SIM115 - the worker's
    hostname = f"test-{os.getpid()}-{time.monotonic_ns()}@{socket.gethostname()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "liveness_project", "worker", "--loglevel",
         (env or {}).get("LOG_LEVEL", "WARNING"), "--concurrency", str(concurrency),
         "--pool", "prefork", "--queues", queue, "--without-gossip", "--without-mingle",
         "--hostname", hostname],
        cwd=REPO, stdout=sink or subprocess.DEVNULL,
        stderr=subprocess.STDOUT if sink else None,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "liveness_project.settings",
             **(env or {})})
    if sink is not None:
        sink.close()    # the child holds its own descriptor
    worker = Worker(process, hostname)
    prefix = (env or {}).get("REDIS_KEY_PREFIX", settings.REDIS_KEY_PREFIX)

    def beats() -> bool:
        """Its heartbeat is in the registry the web reads (apps/analysis/workers.py): the
        beat starts a moment after the models load, so a ping alone can come first."""
        for _ in range(50):
            with redis.Redis.from_url(redis_url) as client:
                if client.zscore(f"{prefix}workers:{queue}", hostname) is not None:
                    return True
            time.sleep(0.1)
        return False

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, "the celery worker exited"
        try:
            if app.send_task("core.ping").get(timeout=5) == "pong" and beats():
                return worker
        except Exception:  # noqa: BLE001 - not up yet (timeout), keep waiting
            pass
    worker.stop()
    raise AssertionError("the celery worker did not answer a ping and beat in 180 s")


@pytest.fixture(scope="session")
def celery_worker() -> Iterator[Worker]:
    """One worker shared by the tests that need models on a worker."""
    worker = start_celery_worker()
    yield worker
    worker.stop()


@pytest.fixture
def embedded_env(tmp_path) -> dict:
    """The environment of `make run` on a fresh machine: no DATABASE_URL (a new SQLite database
    in a fresh var/ folder), no REDIS_URL and nothing answering on the probed port (so the
    runner starts a Redis of its own), its own queue name."""
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "REDIS_KEY_PREFIX"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "liveness_project.settings",
        "LIVENESS_VAR_DIR": str(tmp_path / "var"),
        "EMBEDDED_REDIS_PROBE_PORT": str(free_port()),
        "EMBEDDED_REDIS_PORT": str(free_port()),
        "CELERY_QUEUE": f"embedded-{uuid.uuid4().hex[:8]}",
    })
    return env


@dataclass
class EmbeddedRun:
    url: str
    process: subprocess.Popen
    output: str = ""          # all it printed, once stopped


@contextmanager
def embedded_service(env: dict, *, workers: int = 1) -> Iterator[EmbeddedRun]:
    """`make run`'s service (`manage.py run_embedded`) started in `env`, waited for until
    /readyz answers 200 (a worker has loaded its models), stopped with SIGTERM on leaving;
    its output is in `.output` afterwards."""
    port = free_port()
    # its output goes to a file, not a pipe: nobody reads a pipe until the end, and once the
    # INFO lines of gunicorn and the worker (one per /readyz poll) filled its 64 KiB, every
    # child would block on its next log line
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers)],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, text=True)
    run = EmbeddedRun(f"http://127.0.0.1:{port}", process)

    def output() -> str:
        log.seek(0)
        return log.read()

    try:
        def ready() -> bool:
            assert process.poll() is None, output()
            try:
                return httpx.get(run.url + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 120, "the embedded service to be ready")
        yield run
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        run.output = output()
        log.close()
