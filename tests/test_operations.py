"""/healthz, /readyz, /metrics, logs with request_id, the OpenAPI document, compose.yaml."""

import json
import logging
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from openapi_spec_validator import validate

from apps.core.logging import JsonFormatter

from .conftest import GET_BIZ_TOKEN, REPO, still_form


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_readyz_checks_database_redis_and_workers(client, db, celery_worker):
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"] == body["checks"]["redis"] == "ok"
    assert body["checks"]["workers"].startswith("ok: ")


def test_readyz_fails_when_redis_does_not_answer(client, db, settings):
    from .test_get_biz_token import socket_that_refuses

    with socket_that_refuses() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["redis"].startswith("error")


def _sample(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_and_errors(acme, post_form, client):
    before = client.get("/metrics").content.decode()
    post_form(still_form(acme))
    post_form(still_form(acme, verbose="3"))
    after = client.get("/metrics").content.decode()
    assert after.startswith("# HELP")
    for name, labels in [
        ("liveness_http_requests_total", {"view": "get_biz_token", "method": "POST",
                                          "status": "200"}),
        ("liveness_http_requests_total", {"view": "get_biz_token", "method": "POST",
                                          "status": "400"}),
        ("liveness_biz_tokens_issued_total", {"liveness_type": "still"}),
        ("liveness_faceid_errors_total", {"code": "BAD_ARGUMENTS"}),
    ]:
        assert _sample(after, name, **labels) == _sample(before, name, **labels) + 1, name


def test_metrics_refused_outside_allowed_networks(client):
    assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 403


def test_every_log_line_of_a_request_carries_its_request_id(acme, post_form, caplog):
    caplog.set_level(logging.INFO)
    response = post_form(still_form(acme, sign="broken"))
    request_id = response.json()["request_id"]
    ours = [r for r in caplog.records if r.name.startswith("liveness")]
    assert ours, "the access log line is missing"
    assert {r.request_id for r in ours} == {request_id}
    line = json.loads(JsonFormatter().format(ours[-1]))
    assert line["request_id"] == request_id and line["status"] == 403
    assert line["message"] == f"POST {GET_BIZ_TOKEN} 403"


def test_openapi_document_is_valid_and_served(client):
    document = yaml.safe_load((REPO / "docs" / "openapi.yaml").read_text())
    validate(document)
    assert {"/faceid/v3/sdk/get_biz_token", "/healthz", "/readyz", "/metrics"} <= set(
        document["paths"])
    form = document["components"]["schemas"]["GetBizTokenForm"]["properties"]
    from apps.faceid.params import _CHOICES, _INT_RANGES

    assert set(_CHOICES) | set(_INT_RANGES) <= set(form)  # every parameter is documented
    served = client.get("/openapi.yaml")
    assert served.status_code == 200 and yaml.safe_load(served.content) == document


def _compose_command() -> list[str]:
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0 \
            if shutil.which("docker") else False:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    pytest.fail("neither `docker compose` nor docker-compose is installed "
                "(scripts/ensure_services.sh installs docker-compose)")


def test_compose_file_is_accepted():
    env = {**os.environ, "POSTGRES_PASSWORD": "p", "SECRET_KEY": "s", "FIELD_ENCRYPTION_KEY": "f"}
    result = subprocess.run([*_compose_command(), "-f", "compose.yaml", "config"], cwd=REPO,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    services = yaml.safe_load(result.stdout)["services"]
    assert set(services) == {"web", "worker", "beat", "redis", "postgres"}

    def command(name: str) -> str:
        value = services[name]["command"]
        return " ".join(value if isinstance(value, list) else [value])

    assert "celery -A liveness_project worker" in command("worker")
    assert "celery -A liveness_project beat" in command("beat")


def test_the_web_process_never_loads_a_model():
    """Serves requests through the WSGI app in a fresh process, then checks that no model
    code (ml/ beyond its standard-library job types ml.jobs, torch, OpenCV, mediapipe,
    onnxruntime, numpy) was imported: only workers load them."""
    code = """
import io, json, sys
import django
django.setup()
from django.core.handlers.wsgi import WSGIHandler
from django.urls import get_resolver
get_resolver().url_patterns  # every URL module, admin included
app = WSGIHandler()
for path, method in (("/healthz", "GET"), ("/faceid/v3/sdk/get_biz_token", "POST"),
                     ("/faceid/unknown", "GET")):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "SERVER_NAME": "localhost",
               "SERVER_PORT": "80", "HTTP_HOST": "localhost", "wsgi.input": io.BytesIO(b""),
               "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "CONTENT_LENGTH": "0"}
    status = []
    b"".join(app(environ, lambda s, h: status.append(s)))
    assert status[0][:3] in {"200", "400", "404"}, (path, status)
job_types = {"ml", "ml.jobs"}   # the typed verification job the web builds (stdlib only)
loaded = sorted(m for m in sys.modules
                if (m.startswith("ml.") and m not in job_types)
                or m in ("torch", "cv2", "mediapipe", "onnxruntime", "dlib", "numpy"))
print(json.dumps(loaded))
"""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "liveness_project.settings"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
