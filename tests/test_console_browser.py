"""The operator's review in a real browser (issue 15, docs/ADMIN.md): Debian's headless Chromium
driven by Selenium through Debian's chromium-driver (scripts/ensure_services.sh installs both),
against Django's live test server on the test database. An operator logs in, lists the
verifications, opens a meglive and a flash record (best frame, challenge against detected, the
flash plot), overturns a verdict, exports the filtered list as CSV; a colleague without the
face permission sees no face. Each step's screenshot is saved into docs/admin/ (shown in
docs/ADMIN.md)."""

import csv
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from apps.faceid.models import FaceImageView, OperatorVerdict, VerificationRecord
from ml.flash import flash_challenge_new
from ml.jobs import Reason, VerifyResult

from .conftest import REPO, wait_until
from .test_console_review import (
    THRESHOLDS,
    best_frame,
    flash_liveness,
    meglive_strip,
    reference_face,
    token_recorded,
    verify_recorded,
)

pytestmark = pytest.mark.slow

CHROMIUM, CHROMEDRIVER = shutil.which("chromium"), shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("Debian's chromium and chromium-driver are not installed "
                "(scripts/ensure_services.sh installs them as root)", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only once the browser is known to be there
from selenium.webdriver.common.by import By  # noqa: E402

SCREENSHOTS = REPO / "docs" / "admin"
PASSWORD = "pw-console-12345678"


def chromium(downloads: Path) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1000",
                     "--lang=en-US"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(executable_path=str(CHROMEDRIVER)))
    # headless Chromium saves downloads only when told where, through the DevTools protocol
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    return driver


def screenshot(driver, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def log_in(driver, base: str, username: str) -> None:
    driver.delete_all_cookies()
    driver.get(f"{base}/admin/login/?next=/admin/")
    driver.find_element(By.ID, "id_username").send_keys(username)
    driver.find_element(By.ID, "id_password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(lambda: "/admin/login/" not in driver.current_url, 10, "the login")


def image_loaded(driver, element_id: str) -> bool:
    return bool(driver.execute_script(
        "const i = document.getElementById(arguments[0]); "
        "return i !== null && i.complete && i.naturalWidth > 0;", element_id))


@pytest.fixture
def reviewed(transactional_db, acme) -> dict[str, VerificationRecord]:
    """A meglive and a flash verification, written by verify's writer (test_console_review)."""
    meglive = verify_recorded(
        acme.app, liveness_type="meglive", biz_no="loan-2041",
        challenge={"challenge_id": "b1", "actions": ["turn_left", "blink", "mouth_open"],
                   "action_timeout_s": 10},
        result=VerifyResult(
            Reason.SAME_PERSON, frames=42, best_frame=best_frame(),
            liveness={"method": "actions", "reason": "PASS", "planarity": 0.0371,
                      "events": [["turn_left", 400.0, 1100.0], ["blink", 1500.0, 1650.0],
                                 ["mouth_open", 2300.0, 2900.0]]},
            checks={"face_replace": "passed", "planarity": "passed", "actions": "passed"},
            strip=meglive_strip(),
            passive={"score": 0.06, "threshold": 0.5, "passed": True,
                    "probabilities": {"live": 0.94, "print": 0.04, "screen": 0.02}},
            comparisons={"ref1": {"confidence": 0.77, "thresholds": THRESHOLDS}}),
        outcome="SUCCESS")
    challenge = flash_challenge_new(np.random.default_rng(23))
    flash = verify_recorded(
        acme.app, liveness_type="flash", biz_no="loan-2042",
        challenge={"challenge_id": "b2",
                   "colours": [list(s) for s in challenge.as_dict()["segments"]]},
        result=VerifyResult(Reason.SAME_PERSON, frames=45, best_frame=best_frame(),
                            liveness=flash_liveness(challenge),
                            checks={"flash": "passed"},
                            passive={"score": 0.11, "threshold": 0.5, "passed": True,
                                    "probabilities": {"live": 0.89, "print": 0.06,
                                                      "screen": 0.05}},
                            comparisons={"ref1": {"confidence": 0.93, "thresholds": THRESHOLDS}}),
        outcome="SUCCESS")
    token_recorded(meglive, {"image_ref1": reference_face()})
    return {"meglive": meglive, "flash": flash}


def test_an_operator_reviews_overturns_and_exports_in_chromium(live_server, reviewed, tmp_path):
    users = get_user_model().objects
    users.create_superuser("operator", "op@example.com", PASSWORD)
    colleague = users.create_user("colleague", "co@example.com", PASSWORD, is_staff=True)
    colleague.user_permissions.add(Permission.objects.get(codename="view_verificationrecord"))
    base, meglive, flash = live_server.url, reviewed["meglive"], reviewed["flash"]
    changelist = f"{base}/admin/faceid/verificationrecord/"
    driver = chromium(tmp_path)
    try:
        log_in(driver, base, "operator")
        driver.get(changelist)
        assert meglive.biz_token in driver.page_source
        screenshot(driver, "1-verification-list")

        driver.get(f"{changelist}{meglive.pk}/change/")
        wait_until(lambda: image_loaded(driver, "best-frame"), 10, "the best frame")
        table = driver.find_element(By.ID, "challenge-table").text
        for line in ("1 turn_left turn_left 400.0 1100.0 done", "2 blink blink 1500.0 1650.0 done",
                     "3 mouth_open mouth_open 2300.0 2900.0 done"):
            assert line in table, table
        assert "passes 1e-3, 1e-4; fails 1e-5, 1e-6" in driver.find_element(
            By.ID, "comparisons").text
        wait_until(lambda: image_loaded(driver, "reference-image_ref1"), 10, "the reference")
        screenshot(driver, "2-review-meglive")
        wait_until(lambda: image_loaded(driver, "frame-strip"), 10, "the frame strip")
        times = driver.find_element(By.ID, "strip-times").text
        assert "#0 · 0 ms" in times and "#11 · 1100 ms" in times, times
        driver.execute_script("arguments[0].scrollIntoView();",
                              driver.find_element(By.ID, "review-strip"))
        screenshot(driver, "7-review-strip")
        assert {"best_frame", "frame_strip", "image_ref1"} <= set(
            FaceImageView.objects.values_list("image", flat=True))

        driver.get(f"{changelist}{flash.pk}/change/")
        wait_until(lambda: image_loaded(driver, "best-frame"), 10, "the best frame")
        plot = driver.find_element(By.CSS_SELECTOR, "#flash-plot svg")
        assert plot.size["width"] > 300 and driver.find_elements(By.CSS_SELECTOR,
                                                                 "#flash-plot polyline")
        driver.execute_script("arguments[0].scrollIntoView();",
                              driver.find_element(By.ID, "review-challenge"))
        screenshot(driver, "3-review-flash")

        driver.get(f"{changelist}{meglive.pk}/change/")
        driver.find_element(By.CSS_SELECTOR, "input[name=verdict][value=fraud]").click()
        driver.find_element(By.NAME, "note").send_keys("same face as loan-1990, other name")
        driver.find_element(By.ID, "verdict-save").click()
        # page_source, not an element: the old page's elements go stale as the new one loads
        wait_until(lambda: "Verdict saved" in driver.page_source, 10, "the verdict")
        assert "overturned as fraud" in driver.find_element(By.ID, "current-verdict").text
        driver.execute_script("arguments[0].scrollIntoView();",
                              driver.find_element(By.ID, "review-verdict"))
        screenshot(driver, "4-verdict-overturned")
        assert list(OperatorVerdict.objects.values_list("record", "verdict", "username")) == [
            (meglive.pk, "fraud", "operator")]

        driver.get(f"{changelist}?liveness_type__exact=meglive")
        driver.find_element(By.ID, "csv-export").click()
        wait_until(lambda: any(p.suffix == ".csv" for p in tmp_path.iterdir()), 20,
                   "the CSV download")
        downloaded = next(p for p in tmp_path.iterdir() if p.suffix == ".csv")
        time.sleep(0.5)       # a download is renamed to .csv once complete; let it settle
        rows = list(csv.DictReader(downloaded.open(encoding="utf-8")))
        assert [(r["biz_token"], r["biz_no"], r["operator_verdict"]) for r in rows] == [
            (meglive.biz_token, "loan-2041", "fraud")]

        # every face the browser loaded is in the audit log, and the log is in the admin
        assert FaceImageView.objects.filter(username="operator").count() >= 3
        driver.get(f"{base}/admin/faceid/faceimageview/")
        screenshot(driver, "5-audit-log")

        audited = FaceImageView.objects.count()
        log_in(driver, base, "colleague")
        driver.get(f"{changelist}{meglive.pk}/change/")
        assert driver.find_element(By.ID, "no-face-permission").is_displayed()
        assert not driver.find_elements(By.ID, "best-frame")
        assert not driver.find_elements(By.ID, "frame-strip")
        assert not driver.find_elements(By.CSS_SELECTOR, "#reference-faces img")
        assert "verdict-form" not in driver.page_source
        screenshot(driver, "6-no-face-permission")
        assert FaceImageView.objects.count() == audited
    finally:
        driver.quit()
