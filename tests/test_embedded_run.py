"""The embedded default (`make run`): SQLite, its own Redis, a real Celery worker, gunicorn."""

import json
import os
import signal
import subprocess
import sys
import uuid

import httpx
import pytest

from apps.core.embedded import port_free

from .conftest import GET_BIZ_TOKEN, REPO, free_port, split_form, still_form, wait_until
from .vendor_client import vendor_sign

pytestmark = pytest.mark.slow


@pytest.fixture
def embedded_env(tmp_path):
    env = {k: v for k, v in os.environ.items()
           if k not in {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "REDIS_KEY_PREFIX"}}
    env.update({
        "DJANGO_SETTINGS_MODULE": "liveness_project.settings",
        "LIVENESS_VAR_DIR": str(tmp_path / "var"),
        # Nothing answers on the probed port, so the runner must start a Redis of its own.
        "EMBEDDED_REDIS_PROBE_PORT": str(free_port()),
        "EMBEDDED_REDIS_PORT": str(free_port()),
        "CELERY_QUEUE": f"embedded-{uuid.uuid4().hex[:8]}",
    })
    return env


def manage(env, *args) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True, timeout=120).stdout


def test_embedded_run_serves_with_its_own_redis_and_worker(embedded_env, tmp_path):
    port = free_port()
    runner = subprocess.Popen(
        [sys.executable, "manage.py", "run_embedded", "--bind", f"127.0.0.1:{port}",
         "--workers", "1"],
        cwd=REPO, env=embedded_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    own_redis = f"redis://127.0.0.1:{embedded_env['EMBEDDED_REDIS_PORT']}/0"
    try:
        def ready() -> bool:
            assert runner.poll() is None, runner.stdout.read()
            try:
                return httpx.get(base + "/readyz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(ready, 90, "the embedded service to be ready")
        assert (tmp_path / "var" / "db.sqlite3").exists()

        credentials = json.loads(manage(embedded_env, "create_api_app", "--name", "demo"))
        tenant_sign = vendor_sign(credentials["api_key"], credentials["api_secret"])
        from .conftest import Tenant

        tenant = Tenant(app=None, api_key=credentials["api_key"],
                        api_secret=credentials["api_secret"], app_code=credentials["app_code"])
        data, files = split_form(still_form(tenant, sign=tenant_sign))
        response = httpx.post(base + GET_BIZ_TOKEN, data=data, files=files, timeout=30)
        assert response.status_code == 200, response.text

        ping = subprocess.run(
            [sys.executable, "-c",
             "from liveness_project.celery import app;"
             "print(app.send_task('core.ping').get(timeout=60))"],
            cwd=REPO, env={**embedded_env, "REDIS_URL": own_redis}, capture_output=True,
            text=True, timeout=90,
        )
        assert ping.stdout.strip() == "pong", ping.stderr
    finally:
        runner.send_signal(signal.SIGTERM)
        output, _ = runner.communicate(timeout=60)
    assert runner.returncode == 0, output
    assert "started an embedded Redis" in output
    assert "ready: http://" in output        # announced once a worker had loaded its models
    assert port_free(int(embedded_env["EMBEDDED_REDIS_PORT"]))  # its Redis stopped with it
    assert port_free(port)
