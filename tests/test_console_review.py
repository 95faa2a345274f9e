"""The operator's review of a verification (issue 15, docs/ADMIN.md): the face picture only with
faceid.view_face_images and an audit row per picture served, the challenge asked against what
was detected, the comparisons in words, the operator's verdict beside the record's untouched
machine fields, and the CSV of the filtered list.

The records are written by verify's own writer (`_finish`, the function every verify ends in)
from the results ml returns: the flash one carries the trace ml/flash.py's analyser made from a
clip our simulator rendered; the others are results as ml/session.py builds them."""

import base64
import csv
import io
import json
import time
import uuid
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.forms.models import model_to_dict

from apps.core.crypto import decrypt_bytes, encrypt_bytes
from apps.faceid.models import BizTokenRecord, FaceImageView, OperatorVerdict, VerificationRecord
from apps.faceid.review import VERIFICATION_CSV_COLUMNS, with_current_verdict
from apps.faceid.sessions import Session
from apps.faceid.verification import _finish
from apps.single_image.models import SingleImageCall
from apps.single_image.records import SINGLE_IMAGE_CSV_COLUMNS
from ml.flash import analyse_flash, flash_challenge_new
from ml.image import load_rgb
from ml.jobs import Reason, VerifyResult
from ml.review_images import face_crop_jpeg, frame_strip
from ml.simulator.flash import render_flash_clip

from .images import PHOTOS, face_image

CHANGELIST = "/admin/faceid/verificationrecord/"
BEST_JPEG = face_image("obama.jpg")
THRESHOLDS = {"1e-3": 0.6, "1e-4": 0.7, "1e-5": 0.8, "1e-6": 0.9}


def change_url(record) -> str:
    return f"{CHANGELIST}{record.pk}/change/"


def face_url(record) -> str:
    return f"{CHANGELIST}{record.pk}/face/best_frame.jpg"


def verify_recorded(app, *, liveness_type: str, challenge: dict | None, result: VerifyResult,
                    outcome: str, biz_no: str = "", security_level: str = "2"
                    ) -> VerificationRecord:
    """A verification recorded by verify's writer, as at the end of verify_run."""
    biz_token = f"console-{uuid.uuid4().hex}"
    session = Session(biz_token=biz_token, images={}, challenge=challenge, meta={
        "liveness_type": liveness_type, "comparison_type": "1", "biz_no": biz_no,
        "options": {"security_level": security_level}})
    _finish(app, session, f"{int(time.time())},{uuid.uuid4()}", time.perf_counter(), outcome,
            result)
    return VerificationRecord.objects.get(biz_token=biz_token)


def best_frame() -> dict:
    return {"index": 3, "time_ms": 300.0, "jpeg": base64.b64encode(BEST_JPEG).decode(),
            "quality": 0.91}


def flash_liveness(challenge) -> dict:
    """What ml/session.py's _flash_liveness records, from the analyser's own verdict on a live
    clip the simulator rendered (the face box given: no detector model needed)."""
    photo = load_rgb(PHOTOS / "obama.jpg")
    height, width = photo.shape[:2]
    face_box = (width * 0.3, height * 0.2, width * 0.7, height * 0.7)
    frames, times, box = render_flash_clip(photo, face_box, challenge, scenario="live", seed=5)
    verdict = analyse_flash(frames, times, challenge, box=box)
    return {"method": "flash", "reason": verdict.reason,
            "correlation": round(verdict.correlation, 3), "lag_ms": round(verdict.lag_ms, 1),
            "trace": verdict.details["trace"]}


def meglive_strip() -> dict:
    """ml's own strip of a 12-frame capture, 100 ms apart (the photo, a little further right
    on each frame)."""
    photo = load_rgb(PHOTOS / "obama.jpg")
    frames = [np.roll(photo, 6 * n, axis=1) for n in range(12)]
    strip = frame_strip(frames, [100.0 * n for n in range(12)])
    assert strip is not None
    return strip


def reference_face() -> str:
    photo = load_rgb(PHOTOS / "obama.jpg")
    height, width = photo.shape[:2]
    return face_crop_jpeg(photo, (width * 0.3, height * 0.2, width * 0.7, height * 0.7))


def token_recorded(record: VerificationRecord, faces: dict[str, str]) -> BizTokenRecord:
    """The token record get_biz_token would have written for this verification, keeping the
    reference faces as it does."""
    now = datetime.now(UTC)
    return BizTokenRecord.objects.create(
        biz_token=record.biz_token, app=record.app, request_id="r-token",
        liveness_type=record.liveness_type, comparison_type="0", created_at=now,
        expires_at=now + timedelta(hours=1),
        reference_images={name: {"format": "JPEG", "width": 640, "height": 480,
                                 "sha256": "0" * 64} for name in faces},
        reference_faces_encrypted=encrypt_bytes(json.dumps(faces).encode()))


@pytest.fixture
def records(acme) -> dict[str, VerificationRecord]:
    app = acme.app
    meglive = verify_recorded(
        app, liveness_type="meglive", biz_no="=HYPERLINK(\"http://evil\")",
        challenge={"challenge_id": "c1", "actions": ["blink", "turn_left", "nod"],
                   "action_timeout_s": 10},
        result=VerifyResult(
            Reason.SAME_PERSON, frames=40, best_frame=best_frame(),
            liveness={"method": "actions", "reason": "PASS", "planarity": 0.0412,
                      "events": [["blink", 320.0, 480.0], ["turn_left", 900.0, 1500.0],
                                 ["blink", 1600.0, 1700.0], ["nod", 2100.0, 2600.0]],
                      "pacing": {"frames": 40, "median_gap_ms": 100.0, "max_gap_ms": 133.3}},
            checks={"face_replace": "passed", "planarity": "passed", "actions": "passed"},
            strip=meglive_strip(),
            passive={"score": 0.08, "threshold": 0.5, "passed": True,
                    "probabilities": {"live": 0.92, "print": 0.05, "screen": 0.03}},
            comparisons={"ref1": {"confidence": 0.75, "thresholds": THRESHOLDS}}),
        outcome="SUCCESS")
    challenge = flash_challenge_new(np.random.default_rng(11))
    flash = verify_recorded(
        app, liveness_type="flash", biz_no="order-flash",
        challenge={"challenge_id": "c2", "colours": [list(s) for s in
                                                     challenge.as_dict()["segments"]]},
        result=VerifyResult(Reason.SAME_PERSON, frames=45, best_frame=best_frame(),
                            liveness=flash_liveness(challenge),
                            checks={"flash": "passed"},
                            passive={"score": 0.11, "threshold": 0.5, "passed": True,
                                    "probabilities": {"live": 0.89, "print": 0.06,
                                                      "screen": 0.05}},
                            comparisons={"ref1": {"confidence": 0.95, "thresholds": THRESHOLDS}}),
        outcome="SUCCESS")
    still = verify_recorded(
        app, liveness_type="still", biz_no="order-still", challenge={"challenge_id": "c3"},
        result=VerifyResult(
            Reason.PRESENTATION_ATTACK, frames=5, best_frame=best_frame(),
            liveness={"method": "passive PAD on the best frame"},
            checks={"passive": "failed"},
            passive={"score": 0.81, "threshold": 0.5, "passed": False,
                    "probabilities": {"live": 0.19, "screen": 0.7, "print": 0.11},
                    "frames": [{"index": 0, "live": 0.2}, {"index": 2, "live": 0.19},
                               {"index": 4, "live": 0.35}]}),
        outcome="FAIL_LIVING_FACE_ATTACK")
    token_recorded(meglive, {"image_ref1": reference_face()})
    return {"meglive": meglive, "flash": flash, "still": still}


def staff(*permissions: str, name: str = "operator"):
    """An active staff user holding exactly these permissions ("app_label.codename")."""
    user = get_user_model().objects.create_user(name, f"{name}@example.com", "pw-12345678",
                                                is_staff=True)
    for permission in permissions:
        app_label, codename = permission.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label,
                                                         codename=codename))
    return user


def test_the_record_keeps_the_challenge_asked_and_the_flash_trace(records):
    assert records["meglive"].liveness["challenge"] == {
        "actions": ["blink", "turn_left", "nod"], "action_timeout_s": 10}
    flash = records["flash"].liveness
    assert [c[0] for c in flash["challenge"]["colours"]] and flash["reason"] == "PASS"
    assert len(flash["trace"]) > 10 and all(len(point) == 3 for point in flash["trace"])
    assert "challenge" not in records["still"].liveness      # a still capture is asked nothing


def test_without_the_permission_no_face_leaves_and_no_audit_row_is_written(client, records):
    client.force_login(staff("faceid.view_verificationrecord"))
    page = client.get(change_url(records["meglive"]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="no-face-permission"' in html and 'id="best-frame"' not in html
    assert base64.b64encode(BEST_JPEG).decode()[:200] not in html
    assert "data:image" not in html and "/face/best_frame.jpg" not in html
    assert client.get(face_url(records["meglive"])).status_code == 403
    assert FaceImageView.objects.count() == 0


def test_each_face_served_writes_an_audit_row_and_the_page_alone_writes_none(client, records):
    user = staff("faceid.view_verificationrecord", "faceid.view_face_images")
    client.force_login(user)
    record = records["meglive"]
    html = client.get(change_url(record)).content.decode()
    assert f'src="{face_url(record)}"' in html
    assert "data:image" not in html                          # the page carries no picture
    assert FaceImageView.objects.count() == 0
    for _ in range(2):
        served = client.get(face_url(record))
        assert served.status_code == 200 and served["Content-Type"] == "image/jpeg"
        assert {"no-store", "private"} <= set(served["Cache-Control"].split(", "))
        assert served.content == BEST_JPEG == decrypt_bytes(bytes(record.best_frame_encrypted))
    views = list(FaceImageView.objects.order_by("id").values_list(
        "user", "username", "record", "image", "client_ip"))
    assert views == [(user.pk, "operator", record.pk, "best_frame", "127.0.0.1")] * 2
    # not another picture than the ones the record keeps
    assert client.get(f"{CHANGELIST}{record.pk}/face/other.jpg").status_code == 404
    assert FaceImageView.objects.count() == 2
    # the audit log is readable in the admin, read-only
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    log = client.get("/admin/faceid/faceimageview/")
    assert log.status_code == 200 and "operator" in log.content.decode()
    assert client.get("/admin/faceid/faceimageview/add/").status_code == 403


def test_the_strip_and_the_reference_faces_are_served_audited_and_only_with_the_permission(
        client, records):
    """Issue 15: the kept frames of the capture with their times, and the reference's face
    beside the best frame; faces, so served one by one to those allowed, each view audited."""
    record = records["meglive"]
    strip_url = f"{CHANGELIST}{record.pk}/face/frame_strip.jpg"
    reference_url = f"{CHANGELIST}{record.pk}/face/image_ref1.jpg"
    assert [f[0] for f in record.frame_strip] == [0, 2, 3, 5, 6, 8, 9, 11]
    assert [f[1] for f in record.frame_strip] == [0, 200, 300, 500, 600, 800, 900, 1100]

    client.force_login(staff("faceid.view_verificationrecord", name="reader"))
    html = client.get(change_url(record)).content.decode()
    assert "/face/" not in html and "data:image" not in html
    assert "Kept: #0 at 0 ms, #2 at 200 ms" in html and "#11 at 1100 ms" in html
    assert [client.get(url).status_code for url in (strip_url, reference_url)] == [403, 403]
    assert FaceImageView.objects.count() == 0

    user = staff("faceid.view_verificationrecord", "faceid.view_face_images")
    client.force_login(user)
    html = client.get(change_url(record)).content.decode()
    assert f'src="{strip_url}"' in html and f'src="{reference_url}"' in html
    assert "#11 · 1100 ms" in html and FaceImageView.objects.count() == 0
    strip = client.get(strip_url)
    assert strip.status_code == 200 and "no-store" in strip["Cache-Control"]
    picture = load_rgb(strip.content)
    assert picture.shape[0] == 120 and picture.shape[1] == sum(f[2] for f in record.frame_strip)
    face = load_rgb(client.get(reference_url).content)
    assert max(face.shape[:2]) <= 240
    assert list(FaceImageView.objects.order_by("id").values_list("image", "record", "user")) == [
        ("frame_strip", record.pk, user.pk), ("image_ref1", record.pk, user.pk)]
    # what the record and its token do not keep is not found, and not logged
    assert client.get(f"{CHANGELIST}{record.pk}/face/image_ref2.jpg").status_code == 404
    still = records["still"]
    assert client.get(f"{CHANGELIST}{still.pk}/face/frame_strip.jpg").status_code == 404
    assert "keeps no frame strip" in client.get(change_url(still)).content.decode()
    assert FaceImageView.objects.count() == 2


def test_the_review_page_shows_the_challenge_against_what_was_detected(staff_client, records):
    html = staff_client.get(change_url(records["meglive"])).content.decode()
    table = html[html.index('id="challenge-table"'):html.index("</table>",
                                                                html.index('id="challenge-table"'))]
    cells = table.split("<tr>")[2:]
    # blink at 320-480, then the turn at 900-1500, then the nod (the second blink answers none)
    assert _texts(cells[0])[1:] == ["blink", "blink", "320.0", "480.0", "done"]
    assert _texts(cells[1])[1:] == ["turn_left", "turn_left", "900.0", "1500.0", "done"]
    assert _texts(cells[2])[1:] == ["nod", "nod", "2100.0", "2600.0", "done"]
    assert "passes 1e-3, 1e-4; fails 1e-5, 1e-6" in html

    flash = staff_client.get(change_url(records["flash"])).content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in flash and "<polyline" in flash
    for name, start, end in records["flash"].liveness["challenge"]["colours"]:
        assert f"<td>{name}</td><td>{start}</td><td>{end}</td>" in flash
    assert "passes 1e-3, 1e-4, 1e-5, 1e-6" in flash

    still = staff_client.get(change_url(records["still"])).content.decode()
    assert 'id="pad-frames"' in still and "<td>4</td><td>0.35</td>" in still
    assert "judged an attack" in still
    assert "the <strong>passive</strong> check failed" in still
    assert 'id="passive-advisory"' not in still            # the passive decision decides still
    assert 'id="passive-advisory"' in html and "Live</span>: every check passed" in html
    checks = html[html.index('id="liveness-checks"'):]
    checks = checks[:checks.index("</table>")]
    assert [_texts(row)[0] for row in checks.split("<tr>")[2:]] == [
        "face_replace", "planarity", "actions"]          # judged in this order


def test_the_review_page_says_how_the_clip_was_paced_and_when_too_sparsely(staff_client,
                                                                           records, acme):
    """A 4202 from a slow device reads differently from a person who did not act: the page
    shows how many frames came how far apart, and warns when an action clip was filmed
    sparser than the actions need."""
    page = " ".join(staff_client.get(change_url(records["meglive"])).content.decode().split())
    assert "Frames: 40, a median of 100.0 ms apart (longest gap 133.3 ms)." in page
    assert "Filmed sparser" not in page
    sparse = verify_recorded(
        acme.app, liveness_type="meglive",
        challenge={"challenge_id": "c2", "actions": ["shake", "nod"], "action_timeout_s": 10},
        result=VerifyResult(
            Reason.ACTION_MISSING, frames=22, best_frame=best_frame(),
            liveness={"method": "actions", "reason": "ACTION_MISSING", "planarity": 0.05,
                      "events": [["turn_left", 900.0, 1200.0]],
                      "pacing": {"frames": 22, "median_gap_ms": 210.0, "max_gap_ms": 320.0}},
            checks={"planarity": "passed", "actions": "failed"}),
        outcome="ACTION_ERROR")
    page = " ".join(staff_client.get(change_url(sparse)).content.decode().split())
    assert "Frames: 22, a median of 210.0 ms apart (longest gap 320.0 ms)." in page
    assert "Filmed sparser than the 10 frames a second the actions need" in page


def test_a_meglive_print_reads_as_an_attack_whatever_the_passive_score(staff_client, acme):
    """Issue 15: one meaning. A meglive print the planarity check caught is an attack on the
    review page and in the CSV, though the passive decision (which does not decide meglive)
    called its best frame live; the passive score is shown as advisory."""
    record = verify_recorded(
        acme.app, liveness_type="meglive", biz_no="print-1",
        challenge={"challenge_id": "p1", "actions": ["turn_left"], "action_timeout_s": 10},
        result=VerifyResult(
            Reason.PRESENTATION_ATTACK, frames=40, best_frame=best_frame(),
            liveness={"method": "actions", "reason": "PLANAR_ATTACK", "planarity": 0.008,
                      "events": [["turn_left", 500.0, 900.0]]},
            checks={"face_replace": "passed", "planarity": "failed"},
            passive={"score": 0.1, "threshold": 0.5, "passed": True,
                     "probabilities": {"live": 0.9, "print": 0.06, "screen": 0.04}}),
        outcome="FAIL_LIVING_FACE_ATTACK")
    record.refresh_from_db()
    assert record.attack_result == {"result": True, "failed_check": "planarity",
                                    "checks": {"face_replace": "passed", "planarity": "failed"}}
    html = staff_client.get(change_url(record)).content.decode()
    assert "Judged an attack</span>" in html and "the <strong>planarity</strong> check" in html
    assert "attack_result.result: true" in html and 'id="passive-advisory"' in html
    assert "judged live</span> (advisory)" in html
    row = _csv(staff_client.get(f"{CHANGELIST}export.csv?q=print-1"))[0]
    assert (row["attack"], row["failed_check"], row["passive_passed"]) == (
        "true", "planarity", "true")


def _texts(row: str) -> list[str]:
    import re

    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in row.split("<td")[1:]
            for cell in [cell.split(">", 1)[1].split("</td>")[0]]]


def test_a_verdict_is_kept_beside_the_untouched_record(client, records):
    record = records["still"]
    before = model_to_dict(VerificationRecord.objects.get(pk=record.pk))
    url = f"{CHANGELIST}{record.pk}/verdict/"

    reader = staff("faceid.view_verificationrecord", name="reader")
    client.force_login(reader)
    assert client.post(url, {"verdict": "fraud", "note": "x"}).status_code == 403
    assert not OperatorVerdict.objects.exists()

    judge = staff("faceid.view_verificationrecord", "faceid.add_operatorverdict", name="judge")
    client.force_login(judge)
    assert client.post(url, {"verdict": "maybe"}).status_code == 302
    assert not OperatorVerdict.objects.exists()
    client.post(url, {"verdict": "confirmed", "note": "screen replay, clear"})
    answer = client.post(url, {"verdict": "fraud", "note": "  the same face as case 77  "})
    assert answer.status_code == 302 and answer["Location"] == change_url(record)

    verdicts = list(OperatorVerdict.objects.filter(record=record).order_by("id").values_list(
        "verdict", "note", "user", "username"))
    assert verdicts == [("confirmed", "screen replay, clear", judge.pk, "judge"),
                        ("fraud", "the same face as case 77", judge.pk, "judge")]
    assert model_to_dict(VerificationRecord.objects.get(pk=record.pk)) == before
    page = client.get(change_url(record)).content.decode()
    assert "overturned as fraud" in page and "the same face as case 77" in page
    assert "Earlier verdicts" in page


def _csv(response) -> list[dict]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_the_csv_holds_the_filtered_records_with_the_documented_columns(staff_client, records,
                                                                        make_tenant):
    other = make_tenant(name="other-bank")
    verify_recorded(other.app, liveness_type="meglive", challenge=None, outcome="SUCCESS",
                    result=VerifyResult(Reason.SAME_PERSON, liveness={"method": "actions"}))
    OperatorVerdict.objects.create(record=records["meglive"], verdict="fraud", note="+1 again",
                                   username="judge")

    everything = _csv(staff_client.get(CHANGELIST + "export.csv"))
    assert len(everything) == VerificationRecord.objects.count() == 4
    names = [name for name, _ in VERIFICATION_CSV_COLUMNS]
    assert list(everything[0]) == names

    query = f"liveness_type__exact=meglive&app__id__exact={records['meglive'].app_id}"
    response = staff_client.get(f"{CHANGELIST}export.csv?{query}")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(
        'attachment; filename="verification-records-')
    rows = _csv(response)
    expected = with_current_verdict(VerificationRecord.objects.filter(
        liveness_type="meglive", app_id=records["meglive"].app_id))
    assert [r["biz_token"] for r in rows] == [records["meglive"].biz_token] == [
        e.biz_token for e in expected]
    row = rows[0]
    assert row["biz_no"] == "'=HYPERLINK(\"http://evil\")"       # a formula, defused
    assert (row["result_code"], row["result_message"]) == ("1000", "SUCCESS")
    assert (row["attack"], row["failed_check"]) == ("false", "")
    assert (row["passive_score"], row["passive_passed"]) == ("0.08", "true")
    assert row["comparisons"] == "ref1 0.75: passes 1e-3, 1e-4; fails 1e-5, 1e-6"
    assert (row["operator_verdict"], row["operator_verdict_by"], row["operator_note"]) == (
        "fraud", "judge", "'+1 again")
    assert row["created_at"] == records["meglive"].created_at.isoformat()
    # the search box filters it too, and no picture is ever in it
    searched = _csv(staff_client.get(f"{CHANGELIST}export.csv?q=order-still"))
    assert [r["biz_token"] for r in searched] == [records["still"].biz_token]
    body = "".join(str(v) for r in everything for v in r.values())
    assert base64.b64encode(BEST_JPEG).decode()[:100] not in body

    # the list offers the export with its own query string
    listing = staff_client.get(f"{CHANGELIST}?{query}").content.decode()
    assert f'href="export.csv?{query.replace("&", "&amp;")}"' in listing


def test_the_csv_export_needs_the_view_permission(client, records):
    client.force_login(staff(name="nobody"))
    assert client.get(CHANGELIST + "export.csv").status_code == 403


def test_the_single_image_calls_export_as_filtered(staff_client, acme):
    for n, (contract, verdict) in enumerate([("001", "live"), ("001", "attack"),
                                             ("002", "live")]):
        SingleImageCall.objects.create(app=acme.app, contract=contract, request_id=f"req-{n}",
                                       verdict=verdict, live_probability=0.5 + n / 10,
                                       threshold=0.5, duration_ms=100 + n, client_ip="10.0.0.9")
    response = staff_client.get("/admin/single_image/singleimagecall/export.csv"
                                "?contract__exact=001")
    rows = _csv(response)
    assert list(rows[0]) == [name for name, _ in SINGLE_IMAGE_CSV_COLUMNS]
    assert sorted((r["request_id"], r["verdict"], r["live_probability"]) for r in rows) == [
        ("req-0", "live", "0.5"), ("req-1", "attack", "0.6")]
    assert all("10.0.0.9" not in "".join(r.values()) for r in rows)


def test_a_record_from_before_the_challenge_was_kept_says_so(staff_client, acme):
    record = verify_recorded(
        acme.app, liveness_type="meglive", challenge=None, outcome="SUCCESS",
        result=VerifyResult(
            Reason.SAME_PERSON, liveness={"method": "actions", "reason": "PASS",
                                          "planarity": 0.05, "events": [["nod", 10.0, 90.0]]}))
    assert "challenge" not in record.liveness
    page = staff_client.get(change_url(record)).content.decode()
    assert "The actions asked were not kept with this record" in page and "nod 10.0" in page
    assert 'id="no-face-permission"' not in page and "keeps no best frame" in page
