"""No biometric data, secret or ID number in any log at any level (hardening issue, item 7).

A web process and a worker of their own, both logging at DEBUG into files, serve a session with
a reference photo, its SDK start and verify, a KYC session and a single-image call; then their
logs are searched for what must never be there."""

import base64
import re
import uuid

import pytest

from apps.core.logging import WITHHELD
from apps.faceid.sessions import biz_token_ref

from .conftest import GET_BIZ_TOKEN, split_form, start_celery_worker, still_form
from .images import PHOTOS, face_image
from .test_verify_served import VERIFY, issue

ID_NUMBER = "11010519491231002X"
BASE64_RUN = re.compile(r"[A-Za-z0-9+/=_-]{200,}")        # a picture, a frame, a best image
FLOAT_RUN = re.compile(r"(-?\d+\.\d+,\s*){8,}")             # an embedding, a score vector


@pytest.mark.slow
def test_no_face_data_secret_or_id_number_reaches_any_log(make_tenant, start_gunicorn, tmp_path):
    from liveness_sdk.client import capture
    from ml.image import load_rgb

    env = {"CELERY_QUEUE": f"logs-{uuid.uuid4().hex[:10]}", "LOG_LEVEL": "DEBUG",
           "LOG_FORMAT": "json"}
    worker_log, web_log = tmp_path / "worker.log", tmp_path / "web.log"
    worker = start_celery_worker(env=env, output=worker_log)
    tenant = make_tenant(can_use_data_source=True)
    try:
        server = start_gunicorn(workers=1, env=env, output=web_log)
        with server.client(timeout=120) as http:
            token = issue(http, tenant, liveness_type="still", get_liveness_video="1")
            started = http.post("/faceid/v3/sdk/start", data={"biz_token": token}).json()
            package = capture(started, face=load_rgb(PHOTOS / "obama.jpg"), seed=3)
            verified = http.post(VERIFY, data={"sign": tenant.sign(), "sign_version": "hmac_sha1",
                                               "biz_token": token},
                                 files={"meglive_data": ("meglive_data", package)})
            assert verified.status_code == 200, verified.text
            assert "images" in verified.json()          # a best frame was made and answered
            data, files = split_form(still_form(tenant, comparison_type="1", idcard_name="王五",
                                                idcard_number=ID_NUMBER))
            assert http.post(GET_BIZ_TOKEN, data=data, files=files).status_code == 200
            single = http.post("/api/face_liveness/v1",
                               json={"image_base64": base64.b64encode(face_image()).decode()},
                               headers={"Authorization": f"APPCODE {tenant.app_code}"})
            assert single.json()["code"] in (200, 4004)
    finally:
        worker.stop()
    worker_text, web_text = worker_log.read_text(), web_log.read_text()
    text = worker_text + web_text
    # the logs ran at DEBUG and saw the tasks: the success lines are there, their data is not
    assert "succeeded in" in worker_text and WITHHELD in worker_text
    assert biz_token_ref(token) in worker_text or "analysis.verify" in worker_text
    for secret in (token, tenant.api_secret, tenant.app_code, ID_NUMBER, started["package_key"]):
        assert secret not in text
    assert not BASE64_RUN.search(text), BASE64_RUN.search(text)
    assert not FLOAT_RUN.search(text), FLOAT_RUN.search(text)
