"""FaceID Lite's capture page in a real browser (docs/WEB.md, slice 3): Debian's headless
Chromium driven by Selenium through Debian's chromium-driver (scripts/ensure_services.sh
installs both), a camera faked from a clip our simulator renders (a .y4m file), real gunicorn,
a real model worker, a callback worker, and two loopback receivers standing for the client: its
return_url page and its notify_url. Each step's screenshot is saved into docs/web/ (shown in
docs/WEB.md)."""

import hashlib
import json
import shutil
import uuid
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import numpy as np
import pytest

from liveness_sdk.capture import render
from ml.image import load_rgb

from .conftest import REPO, _server_env, start_celery_worker, wait_until
from .images import PHOTOS, face_image
from .local_http import form_receiver, page_served

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("Debian's chromium and chromium-driver are not installed "
                "(scripts/ensure_services.sh installs them as root)", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only once the browser is known to be there
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SCREENSHOTS = REPO / "docs" / "web"
NOTIFY_QUEUE = f"test-browser-notify-{uuid.uuid4().hex[:12]}"
LOOPBACK = "127.0.0.0/8"
# What the servers of this test take from their environment: a loopback notify_url is allowed
# (the receiver runs here) and the callbacks go to this module's callback worker.
LITE_ENV = {"LITE_NOTIFY_ALLOWED_NETWORKS": LOOPBACK, "LITE_NOTIFY_QUEUE": NOTIFY_QUEUE}


def y4m_write(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """RGB frames as a YUV4MPEG2 clip (4:2:0, BT.601 studio range), which Chromium's
    --use-file-for-fake-video-capture plays in a loop as the camera."""
    height, width = (side - side % 2 for side in frames[0].shape[:2])
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = np.moveaxis(rgb[:height, :width].astype(np.float32), 2, 0)
            y = 16 + 0.257 * r + 0.504 * g + 0.098 * b
            u = 128 - 0.148 * r - 0.291 * g + 0.439 * b
            v = 128 + 0.439 * r - 0.368 * g - 0.071 * b
            out.write(b"FRAME\n")
            for plane in (y, u.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3)),
                          v.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))):
                out.write(np.clip(np.round(plane), 0, 255).astype(np.uint8).tobytes())
    return path


def still_clip(folder: Path, scenario: str = "live") -> Path:
    """The simulator's still capture of the person (the SDK mock's renderer), live or an attack
    (print, replay, mask): a still challenge shows nothing, so the clip does not depend on the
    session's challenge."""
    challenge = {"liveness_type": "still", "challenge_id": "browser-clip"}
    frames = [rgb for _, rgb in render(challenge, scenario, load_rgb(PHOTOS / "obama.jpg"),
                                       seed=1)]
    return y4m_write(folder / f"{scenario}-still.y4m", frames)


def chromium(*, clip: Path | None, camera_allowed: bool) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=480,900",
                     "--lang=en-US", "--use-fake-device-for-media-stream"):
        options.add_argument(argument)
    if camera_allowed:
        options.add_argument("--use-fake-ui-for-media-stream")   # grants the camera
    else:
        options.add_argument("--deny-permission-prompts")        # the user says no
    if clip is not None:
        options.add_argument(f"--use-file-for-fake-video-capture={clip}")
    return webdriver.Chrome(options=options,
                            service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))


def page_state(driver) -> str:
    return driver.execute_script("return document.body.dataset.state || ''")


def wait_for_state(driver, *states: str, timeout: float = 60) -> str:
    WebDriverWait(driver, timeout, poll_frequency=0.05).until(
        lambda d: page_state(d) in states,
        message=f"page never reached {states}")
    return page_state(driver)


def screenshot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


@pytest.fixture(scope="module")
def notify_worker(django_db_setup):
    """A Celery worker on the test database that takes only the callbacks (no models)."""
    worker = start_celery_worker(env=_server_env({
        "CELERY_QUEUE": NOTIFY_QUEUE, "ML_WARM_WORKERS": "0", **LITE_ENV}))
    yield worker
    worker.stop()


@pytest.fixture
def lite_server(start_gunicorn, notify_worker, settings):
    settings.LITE_NOTIFY_ALLOWED_NETWORKS = LOOPBACK
    return start_gunicorn(workers=1, env=LITE_ENV)


def lite_token(http: httpx.Client, tenant, **fields) -> dict:
    form = {"api_key": tenant.api_key, "api_secret": tenant.api_secret,
            "biz_no": f"order-{uuid.uuid4()}", "comparison_type": "0", "uuid": "user-42",
            "liveness_type": "still", **fields}
    answer = http.post("/faceid/lite/get_token", data=form, files={
        "image_ref1": ("ref.jpg", face_image("obama3.jpg"), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    return answer.json()


def notified_once(notified: list, http: httpx.Client, tenant, biz_id: str,
                  outcome: tuple[str, int, str]) -> dict:
    """The one callback the receiver got for the session: signed sha1(api_secret + data), with
    the expected (status, result_code, result_message), and get_result saying the same."""
    wait_until(lambda: len(notified) >= 1, 60, "the notify callback")
    notify = notified[0]
    assert notify["sign"] == hashlib.sha1(
        (tenant.api_secret + notify["data"]).encode()).hexdigest()
    data = json.loads(notify["data"])
    assert (data["status"], data["result_code"], data["result_message"]) == outcome, data
    assert data["biz_info"]["biz_id"] == biz_id
    result = http.get("/faceid/lite/get_result", params={
        "api_key": tenant.api_key, "api_secret": tenant.api_secret, "biz_id": biz_id}).json()
    assert {k: v for k, v in result.items() if k not in ("request_id", "time_used")} == data
    assert len(notified) == 1
    return data


def test_a_live_still_session_in_chromium_reaches_return_url_and_notifies_once(
        lite_server, acme, tmp_path):
    clip = still_clip(tmp_path)
    with form_receiver() as (notify_base, notified), \
            page_served("Back at the bank") as (bank_base, bank_requests), \
            lite_server.client() as http:
        issued = lite_token(http, acme, web_title="Open an account",
                            return_url=bank_base + "/lite/done?shop=7",
                            notify_url=notify_base + "/lite/notify", biz_no="account-42")
        driver = chromium(clip=clip, camera_allowed=True)
        try:
            driver.get(f"{lite_server.url}/faceid/lite/do?token={issued['token']}")
            assert driver.title == "Open an account"
            wait_for_state(driver, "ready")
            screenshot(driver, "1-ready")
            driver.find_element(By.ID, "start").click()
            wait_for_state(driver, "capturing")
            screenshot(driver, "2-capturing")
            wait_for_state(driver, "uploading", "done", timeout=30)
            assert wait_for_state(driver, "done", timeout=120) == "done", driver.find_element(
                By.ID, "message").text
            screenshot(driver, "3-done")
            WebDriverWait(driver, 30).until(lambda d: d.current_url.startswith(bank_base))
            screenshot(driver, "4-return-url")
            # the token was used: loading the page again is refused
            driver.get(f"{lite_server.url}/faceid/lite/do?token={issued['token']}")
            assert "already been used" in driver.find_element(By.ID, "message").text
            screenshot(driver, "5-replay-refused")
        finally:
            driver.quit()

        # the browser went back by GET with the business' ids, nothing more
        method, path, _ = bank_requests[0]
        query = parse_qs(urlsplit(path).query)
        assert method == "GET" and urlsplit(path).path == "/lite/done"
        assert query == {"shop": ["7"], "biz_id": [issued["biz_id"]], "biz_no": ["account-42"]}

        notified_once(notified, http, acme, issued["biz_id"], ("OK", 1000, "SUCCESS"))


# A camera that films what the test renders for the session's own challenge, which the page
# draws only once it starts: getUserMedia answers a canvas's stream; the page's start answer is
# held until the test has loaded the clip rendered for its challenge; the clip plays from the
# moment the page starts capturing, at its rendered times (the simulator renders a challenge
# from the capture's start, as the SDK's capture does).
CHALLENGE_CAMERA = """
(() => {
  const canvas = document.createElement("canvas");
  canvas.width = 480; canvas.height = 640;
  const paint = canvas.getContext("2d");
  let clip = [], playingSince = null, loaded;
  const ready = new Promise((resolve) => { loaded = resolve; });
  window.challengeCamera = {
    challenge: null,
    sealed: null,
    load(frames) {               // [[ms, "data:image/jpeg;base64,..."], ...]
      return Promise.all(frames.map(([ms, url]) => new Promise((resolve) => {
        const image = new Image();
        image.onload = () => resolve([ms, image]);
        image.src = url;
      }))).then((images) => {
        clip = images;
        canvas.width = images[0][1].width; canvas.height = images[0][1].height;
        loaded();
      });
    },
  };
  setInterval(() => {
    if (!clip.length) {          // a grey picture until the clip comes: a camera always films
      paint.fillStyle = "#808080";
      paint.fillRect(0, 0, canvas.width, canvas.height);
      return;
    }
    if (playingSince === null && document.body && document.body.dataset.state === "capturing")
      playingSince = performance.now();
    const t = playingSince === null ? 0 : performance.now() - playingSince;
    let shown = clip[0][1];
    for (const [ms, image] of clip) { if (ms <= t) shown = image; else break; }
    paint.drawImage(shown, 0, 0);
  }, 10);
  navigator.mediaDevices.getUserMedia = async () => canvas.captureStream(30);
  const fetchOriginal = window.fetch.bind(window);
  window.fetch = async (url, options) => {
    // what the page uploads, kept so that a test can read the frames' times
    const sealed = options && options.body instanceof FormData && options.body.get("meglive_data");
    if (sealed) window.challengeCamera.sealed = await sealed.text();
    const answer = await fetchOriginal(url, options);
    if (String(url).includes("/page/start") && answer.ok) {
      window.challengeCamera.challenge = (await answer.clone().json()).challenge;
      await ready;
    }
    return answer;
  };
})();
"""


def started_with_challenge_camera(driver, lite_server, issued: dict, *scripts: str) -> dict:
    """Opens the session's page with CHALLENGE_CAMERA (and `scripts`) installed, presses
    Start, and returns the challenge the page was given; the camera waits for its clip."""
    for source in (CHALLENGE_CAMERA, *scripts):
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": source})
    driver.get(f"{lite_server.url}/faceid/lite/do?token={issued['token']}")
    wait_for_state(driver, "ready")
    driver.find_element(By.ID, "start").click()
    WebDriverWait(driver, 30, poll_frequency=0.05).until(
        lambda d: d.execute_script("return window.challengeCamera.challenge"))
    return driver.execute_script("return window.challengeCamera.challenge")


@pytest.mark.parametrize("liveness_type", ["meglive", "flash"])
def test_a_live_clip_session_in_chromium_reaches_return_url_and_notifies_ok(
        lite_server, acme, liveness_type):
    """meglive (two actions) and flash in the browser: the page draws its challenge, the camera
    films the simulator's live capture rendered for that challenge, and the session ends as a
    live one: return_url reached, one signed OK / 1000 callback, get_result the same."""
    import base64

    from liveness_sdk.client import jpeg

    face = load_rgb(PHOTOS / "obama.jpg")
    with form_receiver() as (notify_base, notified), \
            page_served("Back at the bank") as (bank_base, _), lite_server.client() as http:
        issued = lite_token(http, acme, return_url=bank_base + "/lite/done",
                            notify_url=notify_base + "/lite/notify",
                            liveness_type=liveness_type, liveness_action_count="2")
        driver = chromium(clip=None, camera_allowed=True)
        try:
            challenge = started_with_challenge_camera(driver, lite_server, issued)
            assert challenge["liveness_type"] == liveness_type
            frames = [[ms, "data:image/jpeg;base64," + base64.b64encode(jpeg(rgb)).decode()]
                      for ms, rgb in render(challenge, "live", face, seed=3)]
            driver.execute_script("return window.challengeCamera.load(arguments[0])", frames)
            assert wait_for_state(driver, "done", timeout=120) == "done", driver.find_element(
                By.ID, "message").text
            sealed = driver.execute_script("return window.challengeCamera.sealed")
            WebDriverWait(driver, 30).until(lambda d: d.current_url.startswith(bank_base))
        finally:
            driver.quit()
        try:
            notified_once(notified, http, acme, issued["biz_id"], ("OK", 1000, "SUCCESS"))
        except AssertionError as failed:
            # a rare false reject on some draw: say which, and how the page paced its frames
            raise AssertionError(f"{failed}; challenge {challenge}; frame gaps "
                                 f"{frame_gaps(sealed)}") from failed


def uploaded_frame_times(sealed: str) -> list[float]:
    """The frames' times (ms) in the meglive_data package the page uploaded."""
    import base64

    body = sealed.split(".")[1]
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    return [frame["t"] for frame in payload["frames"]]


def frame_gaps(sealed: str | None) -> str:
    if not sealed:
        return "(nothing uploaded)"
    gaps = np.diff(uploaded_frame_times(sealed))
    return (f"{len(gaps) + 1} frames, median {np.median(gaps):.0f} ms, "
            f"max {gaps.max():.0f} ms: {np.round(gaps).astype(int).tolist()}")


# Drawing and encoding a frame made slow, as on a slow phone or a busy machine: each
# toDataURL call takes SLOW_GRAB_MS longer.
SLOW_GRAB_MS = 50
SLOW_GRABS = """
(() => {
  const encode = HTMLCanvasElement.prototype.toDataURL;
  HTMLCanvasElement.prototype.toDataURL = function (...args) {
    const until = performance.now() + SLOW_GRAB_MS;
    while (performance.now() < until) { /* a slow device */ }
    return encode.apply(this, args);
  };
})();
""".replace("SLOW_GRAB_MS", str(SLOW_GRAB_MS))


def test_a_slow_device_still_films_actions_ten_frames_a_second(lite_server, acme):
    """The page grabs frames on a fixed cadence: when drawing and encoding a frame costs
    50 ms, the frames of a meglive capture still come ~100 ms apart (sleeping a whole period
    after each grab made them 150 ms and more apart, and a head shake's far side can fall
    between frames 200 ms apart)."""
    import base64

    from liveness_sdk.client import jpeg

    face = jpeg(load_rgb(PHOTOS / "obama.jpg"))
    with form_receiver() as (notify_base, _), lite_server.client() as http:
        issued = lite_token(http, acme, return_url=notify_base + "/lite/done",
                            notify_url=notify_base + "/lite/notify",
                            liveness_type="meglive", liveness_action_count="2")
        driver = chromium(clip=None, camera_allowed=True)
        try:
            started_with_challenge_camera(driver, lite_server, issued, SLOW_GRABS)
            driver.execute_script("return window.challengeCamera.load(arguments[0])",
                                  [[0, "data:image/jpeg;base64," + base64.b64encode(face).decode()]])
            WebDriverWait(driver, 60, poll_frequency=0.05).until(
                lambda d: d.execute_script("return window.challengeCamera.sealed"))
            sealed = driver.execute_script("return window.challengeCamera.sealed")
        finally:
            driver.quit()
    times = uploaded_frame_times(sealed)
    gaps = np.diff(times)
    # 0.7 s neutral + two 2.5 s actions at 10 frames a second: 57 frames on time
    assert len(times) >= 45, frame_gaps(sealed)
    assert np.median(gaps) <= 110, frame_gaps(sealed)
    assert gaps.min() >= SLOW_GRAB_MS, frame_gaps(sealed)


def test_a_printed_photo_in_chromium_ends_failed_with_the_attack_code(lite_server, acme,
                                                                      tmp_path):
    """The camera films a printed photo of the person (the simulator's print: paper texture,
    ink, the sheet's edges): the page still only learns "done" and goes back to return_url,
    while the client's server gets one signed FAILED / 4100 FAIL_LIVING_FACE_ATTACK callback
    and get_result says the same."""
    clip = still_clip(tmp_path, "print")
    with form_receiver() as (notify_base, notified), \
            page_served("Back at the bank") as (bank_base, _), lite_server.client() as http:
        issued = lite_token(http, acme, return_url=bank_base + "/lite/done",
                            notify_url=notify_base + "/lite/notify")
        driver = chromium(clip=clip, camera_allowed=True)
        try:
            driver.get(f"{lite_server.url}/faceid/lite/do?token={issued['token']}")
            wait_for_state(driver, "ready")
            driver.find_element(By.ID, "start").click()
            assert wait_for_state(driver, "done", timeout=120) == "done", driver.find_element(
                By.ID, "message").text
            WebDriverWait(driver, 30).until(lambda d: d.current_url.startswith(bank_base))
        finally:
            driver.quit()
        notified_once(notified, http, acme, issued["biz_id"],
                      ("FAILED", 4100, "FAIL_LIVING_FACE_ATTACK"))


def test_a_refused_camera_shows_its_message_and_the_session_notifies_failed_after_its_hour(
        lite_server, acme, settings):
    """The camera is refused: the page says so in both languages, nothing is captured, and
    once the session's hour is over the sweep (every few minutes in a deployment; called here,
    the session's end moved to the past as its hour would) makes the FAILED callback due and the
    callback worker delivers it, signed, with LIVING_OVERTIME; get_result says the same."""
    from apps.faceid.lite import lite_notify_sweep
    from apps.faceid.models import LiteToken

    from .test_lite_notify import expire_unused, settled

    settings.LITE_NOTIFY_QUEUE = NOTIFY_QUEUE      # the sweep runs in this process
    with form_receiver() as (notify_base, notified), lite_server.client() as http:
        issued = lite_token(http, acme, return_url="https://bank.example/lite/done",
                            notify_url=notify_base + "/lite/notify")
        driver = chromium(clip=None, camera_allowed=False)
        try:
            driver.get(f"{lite_server.url}/faceid/lite/do?token={issued['token']}")
            assert wait_for_state(driver, "camera-refused", "no-camera") == "camera-refused"
            message = driver.find_element(By.ID, "message")
            assert "Camera access was refused" in message.text
            assert driver.find_element(By.ID, "retry").is_displayed()
            screenshot(driver, "6-camera-refused")
            driver.find_element(By.ID, "lang").click()
            assert "摄像头权限被拒绝" in message.text
            screenshot(driver, "7-camera-refused-zh")
        finally:
            driver.quit()
        status = http.get("/faceid/lite/get_result", params={
            "api_key": acme.api_key, "api_secret": acme.api_secret,
            "biz_id": issued["biz_id"]}).json()["status"]
        assert status == "NOT_STARTED"      # no capture was made; the sweep ends it after its hour
        assert notified == []

        lite = LiteToken.objects.get(biz_id=issued["biz_id"])
        expire_unused(lite)
        assert lite_notify_sweep() == 1
        settled(lite)
        assert lite.notify_state == LiteToken.NotifyState.DELIVERED
        notified_once(notified, http, acme, issued["biz_id"],
                      ("FAILED", 9200, "LIVING_OVERTIME"))
