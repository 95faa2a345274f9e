"""The embedded default (`make run`): SQLite, its own Redis, a real Celery worker, gunicorn."""

import json
import subprocess
import sys

import httpx
import pytest

from apps.core.embedded import port_free

from .conftest import GET_BIZ_TOKEN, REPO, embedded_service, split_form, still_form
from .vendor_client import vendor_sign

pytestmark = pytest.mark.slow


def manage(env, *args) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, check=True,
                          capture_output=True, text=True, timeout=120).stdout


def test_embedded_run_serves_with_its_own_redis_and_worker(embedded_env, tmp_path):
    own_redis = f"redis://127.0.0.1:{embedded_env['EMBEDDED_REDIS_PORT']}/0"
    with embedded_service(embedded_env) as service:
        assert (tmp_path / "var" / "db.sqlite3").exists()

        credentials = json.loads(manage(embedded_env, "create_api_app", "--name", "demo"))
        tenant_sign = vendor_sign(credentials["api_key"], credentials["api_secret"])
        from .conftest import Tenant

        tenant = Tenant(app=None, api_key=credentials["api_key"],
                        api_secret=credentials["api_secret"], app_code=credentials["app_code"])
        data, files = split_form(still_form(tenant, sign=tenant_sign))
        response = httpx.post(service.url + GET_BIZ_TOKEN, data=data, files=files, timeout=30)
        assert response.status_code == 200, response.text

        ping = subprocess.run(
            [sys.executable, "-c",
             "from liveness_project.celery import app;"
             "print(app.send_task('core.ping').get(timeout=60))"],
            cwd=REPO, env={**embedded_env, "REDIS_URL": own_redis}, capture_output=True,
            text=True, timeout=90,
        )
        assert ping.stdout.strip() == "pong", ping.stderr
    output = service.output
    assert service.process.returncode == 0, output
    assert "started an embedded Redis" in output
    assert "ready: http://" in output        # announced once a worker had loaded its models
    assert port_free(int(embedded_env["EMBEDDED_REDIS_PORT"]))  # its Redis stopped with it
    assert port_free(int(service.url.rsplit(":", 1)[1]))
