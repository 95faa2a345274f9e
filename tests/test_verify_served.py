"""verify under real gunicorn processes: 50 concurrent verifies of one token, a worker process
killed mid-task, and the liveness-sdk console script."""

import json
import os
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from apps.faceid.models import VerificationRecord
from apps.faceid.sessions import biz_token_ref, session_challenge_set, session_read
from liveness_project.celery import app as celery_app

from .conftest import GET_BIZ_TOKEN, REPO, split_form, still_form, wait_until
from .images import PHOTOS, face_image

VERIFY = "/faceid/v3/sdk/verify"


def issue(http, tenant, **fields) -> str:
    data, files = split_form(still_form(tenant, sign=tenant.sign(valid_for=600), **fields))
    response = http.post(GET_BIZ_TOKEN, data=data, files=files)
    assert response.status_code == 200, response.text
    return response.json()["biz_token"]


def test_fifty_concurrent_verifies_of_one_token_run_once(acme, start_gunicorn):
    server = start_gunicorn(workers=4)
    with server.client() as http:
        token = issue(http, acme, liveness_type="raw_image",
                      image=("me.jpg", face_image("obama.jpg"), "image/jpeg"))
    sign = acme.sign(valid_for=600)
    barrier = threading.Barrier(50)

    def one(_):
        with server.client() as http:
            barrier.wait()
            return http.post(VERIFY, data={"sign": sign, "sign_version": "hmac_sha1",
                                           "biz_token": token})

    with ThreadPoolExecutor(50) as pool:
        responses = list(pool.map(one, range(50)))
    assert all(r.status_code == 200 for r in responses)
    codes = sorted(r.json()["result_code"] for r in responses)
    assert codes == [1000] + [4200] * 49, codes
    assert VerificationRecord.objects.filter(biz_token=token).count() == 1


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def test_a_worker_killed_mid_task_is_redelivered_and_completes_once(acme, start_gunicorn,
                                                                      celery_worker):
    from liveness_sdk.client import capture
    from ml.image import load_rgb

    server = start_gunicorn(workers=2)
    with server.client() as http:
        token = issue(http, acme, liveness_type="meglive", liveness_action_count="3")
        started = http.post("/faceid/v3/sdk/start", data={"biz_token": token}).json()
        # the actions pinned (the server draws them at random): this test is about the
        # worker's death, and must not depend on which draw the capture renders
        challenge = {**session_read(biz_token=token).challenge,
                     "actions": ["blink", "turn_left", "mouth_open"]}
        session_challenge_set(biz_token=token, challenge=challenge, max_attempts=10)
        package = capture({**started, "challenge": challenge},
                          face=load_rgb(PHOTOS / "obama.jpg"), seed=4)
    answer: dict = {}

    def running_pid(other_than: int | None = None) -> int | None:
        """The pool process running this session's verify, as the worker itself reports its
        active tasks (`celery inspect active`)."""
        # asked of this worker alone, the answer comes as soon as it replies
        active = celery_app.control.inspect(destination=[celery_worker.hostname], limit=1,
                                            timeout=5.0).active() or {}
        for task in (t for tasks in active.values() for t in tasks):
            if (task["name"] == "analysis.verify"
                    and biz_token_ref(token) in str(task.get("kwargs"))
                    and task["worker_pid"] != other_than):
                return int(task["worker_pid"])
        return None

    def send():
        with server.client(timeout=120) as http:
            answer["response"] = http.post(
                VERIFY, data={"sign": acme.sign(), "sign_version": "hmac_sha1",
                              "biz_token": token},
                files={"meglive_data": ("meglive_data", package)})

    thread = threading.Thread(target=send)
    thread.start()
    seen: dict[str, int | None] = {}

    def started_running() -> bool:
        seen["pid"] = running_pid()
        return seen["pid"] is not None

    wait_until(started_running, 120, "the task to start")
    first_pid = seen["pid"]
    assert first_pid in _children(celery_worker.process.pid)
    os.kill(first_pid, signal.SIGKILL)          # the pool process dies mid-task
    wait_until(lambda: running_pid(other_than=first_pid) is not None or not thread.is_alive(),
               90, "the task to be delivered again")
    thread.join(timeout=150)
    assert not thread.is_alive()
    response = answer["response"]
    assert response.status_code == 200, response.text
    assert response.json()["result_code"] == 1000     # the killed process could not answer
    assert VerificationRecord.objects.filter(biz_token=token).count() == 1


def test_the_liveness_sdk_console_script(acme, start_gunicorn, tmp_path):
    server = start_gunicorn(workers=2)
    script = Path(sys.executable).with_name("liveness-sdk")
    assert script.exists(), "pip install -e . installs the liveness-sdk console script"
    with server.client() as http:
        token = issue(http, acme, liveness_type="flash")
        out = tmp_path / "meglive_data"
        result = subprocess.run(
            [str(script), "capture", "--base-url", server.url, "--biz-token", token,
             "--scenario", "live", "--face", str(PHOTOS / "obama.jpg"), "--out", str(out)],
            capture_output=True, text=True, timeout=180, cwd=REPO)
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["challenge"]["liveness_type"] == "flash" and out.stat().st_size > 10_000
        response = http.post(VERIFY, data={"sign": acme.sign(), "sign_version": "hmac_sha1",
                                           "biz_token": token},
                             files={"meglive_data": ("meglive_data", out.read_bytes())})
        assert response.json()["result_code"] == 1000
        refused = subprocess.run(
            [str(script), "capture", "--base-url", server.url, "--biz-token", "nope",
             "--face", str(PHOTOS / "obama.jpg"), "--out", str(out)],
            capture_output=True, text=True, timeout=120, cwd=REPO)
        assert refused.returncode == 2 and "BIZ_TOKEN_DENIED" in refused.stderr


def test_the_sdk_mock_cli_simulates_a_risky_device(acme, start_gunicorn, tmp_path):
    """`--simulate-risk` seals a risky device report; a session with device_risk=1 refuses it.
    Run as `python -m liveness_sdk.cli` from this checkout (the console script is the installed
    copy's)."""
    server = start_gunicorn(workers=1)
    out = tmp_path / "meglive_data"
    with server.client() as http:
        token = issue(http, acme, liveness_type="still", device_risk="1",
                      maximum_brightness="1")
        result = subprocess.run(
            [sys.executable, "-m", "liveness_sdk.cli", "capture", "--base-url", server.url,
             "--biz-token", token, "--face", str(PHOTOS / "obama.jpg"), "--out", str(out),
             "--simulate-risk", "emulator", "--simulate-risk", "debugger"],
            capture_output=True, text=True, timeout=180, cwd=REPO)
        assert result.returncode == 0, result.stderr[-2000:]
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["device"]["emulator"] is summary["device"]["debugger"] is True
        assert summary["device"]["brightness_raised"] is True
        response = http.post(VERIFY, data={"sign": acme.sign(), "sign_version": "hmac_sha1",
                                           "biz_token": token},
                             files={"meglive_data": ("meglive_data", out.read_bytes())})
    body = response.json()
    assert (body["result_code"], body["result_message"]) == (4100, "FAIL_LIVING_FACE_ATTACK")
    assert body["device_risk"] == {"risky": True, "reasons": ["emulator", "debugger"]}
    report = VerificationRecord.objects.get(biz_token=token).liveness["device"]["report"]
    assert report["brightness_raised"] is True
