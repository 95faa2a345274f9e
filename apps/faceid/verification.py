"""The SDK's start and the client server's verify: challenge, package, atomic consume, the
models on a worker, the record, the media.

verify, in order: the guard (guard.py: signature, the app, NO_VERIFY_PERMISSION, a slot; 403)
-> biz_token (400) -> the session: gone, used or another app's -> result 4200
BIZ_TOKEN_DENIED -> meglive_data (400 MEGLIVE_DATA_ERROR / MEGLIVE_DATA_BIZ_TOKEN_NOT_MATCH)
-> the SDK's progress (9000 not started, 9100 another attempt in progress) -> consume (a lost
race -> 4200) -> overtime (9200) -> device_risk=1: the SDK's device report (devices.py; a
risky device, or no report: 4100) -> KYC data source (3000 family) -> the worker (liveness,
comparisons) -> record, media, answer. Recording the verification of a session a Lite token
wraps also makes its notify_url callback due, in the same transaction (lite_notify.py).
"""

import base64
import json
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from django.conf import settings
from django.db import IntegrityError, transaction

from apps.analysis.services import AnalysisUnavailable, verification_analyse
from apps.core.crypto import encrypt_bytes, keyed_digest
from apps.core.metrics import VERIFICATIONS
from apps.core.request_context import elapsed_ms
from apps.identity.sources import LookupStatus, identity_lookup
from apps.tenants.error_codes import AccessDeniedReason
from apps.tenants.models import ApiApp
from apps.tenants.services import api_app_call_give_back
from ml.jobs import (
    FAILED,
    PASSED,
    ActionChallenge,
    FlashSequence,
    LivenessCheck,
    Reason,
    VerifyJob,
    VerifyResult,
)

from . import errors
from .challenges import challenge_new
from .devices import device_risk, device_summary
from .guard import guard, verify_permission
from .lite_notify import lite_notify_due
from .meglive import PackageError, package_frames_read, package_key, package_open
from .models import BizTokenRecord, LivenessMedia, VerificationRecord
from .results import (
    DEVICE_CHECK,
    LIVENESS_CHECKS,
    REASON_RESULTS,
    RESULT_CODES,
    SECURITY_LEVEL_FAR,
    attack_result_of,
    pad_level_of,
)
from .sessions import (
    Session,
    biz_token_ref,
    session_challenge_set,
    session_consume,
    session_read,
    session_restore,
    session_ttl,
    session_was_consumed,
)

logger = logging.getLogger(__name__)

REFERENCE_NAMES = {"image_ref1": "ref1", "image_ref2": "ref2"}


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ----------------------------------------------------------------------------- SDK start


def sdk_start(*, form) -> dict:
    """The SDK presents its biz_token and receives a fresh challenge and the key that seals
    its package. Each call is an attempt; past SDK_MAX_ATTEMPTS: MORE_RETRY_TIMES."""
    biz_token = (form.get("biz_token") or "").strip()
    if not biz_token:
        raise errors.missing_argument("biz_token")
    session = session_read(biz_token=biz_token)
    if session is None or session.meta["liveness_type"] == "raw_image":
        raise errors.biz_token_denied()
    challenge = challenge_new(session.meta)
    attempt = session_challenge_set(biz_token=biz_token, challenge=challenge,
                                    max_attempts=settings.SDK_MAX_ATTEMPTS)
    if attempt < 0:
        raise errors.biz_token_denied()
    if attempt > settings.SDK_MAX_ATTEMPTS:
        raise errors.authorization_error(AccessDeniedReason.MORE_RETRY_TIMES)
    return {"biz_token": biz_token, "challenge": challenge, "package_version": 1,
            "package_key": _b64url(package_key(biz_token, challenge["challenge_id"])),
            "attempt": attempt, "attempts_left": settings.SDK_MAX_ATTEMPTS - attempt}


# ----------------------------------------------------------------------------- verify


def _answer(code_name: str, *, biz_no: str, extra: dict | None = None,
            liveness_type: str = "unknown") -> dict:
    VERIFICATIONS.labels(liveness_type, code_name).inc()
    return {"biz_no": biz_no, "result_code": RESULT_CODES[code_name],
            "result_message": code_name, **(extra or {})}


def _package_bytes(form, files) -> bytes | None:
    upload = files.get("meglive_data")
    if upload is not None:
        return upload.read()
    text = form.get("meglive_data")
    return text.encode() if text else None


def verify_run(*, form, files, client_ip: str, request_id: str, started: float) -> dict:
    with guard(form=form, client_ip=client_ip, permission=verify_permission, slot=True) as app:
        return verify_admitted(app=app, form=form, files=files, request_id=request_id,
                               started=started)


def lost_session_settle(*, app: ApiApp, biz_token: str, request_id: str) -> bool:
    """A biz_token the database issued to `app`, unexpired and never verified, whose session Redis
    no longer holds and never saw consumed (no tombstone: a verify that just took the session
    has not recorded it yet, and is left to): Redis lost it (a restart without persistence, an eviction). The record is
    closed with a verification record saying so, and the call get_biz_token counted is given
    back; once, whoever asks first (the update is atomic). The caller answers BIZ_TOKEN_DENIED:
    the client starts again with a new biz_token. Returns whether this call settled it."""
    if not (len(biz_token) <= 64 and biz_token.isascii() and biz_token.isprintable()):
        return False            # never one we issued (and PostgreSQL refuses NUL in text)
    if session_was_consumed(biz_token=biz_token):
        return False            # another verify took it a moment ago and is recording it
    now = datetime.now(UTC)
    with transaction.atomic():
        issued = (BizTokenRecord.objects.select_for_update()
                  .filter(biz_token=biz_token, app=app, consumed_at__isnull=True,
                          expires_at__gt=now).first())
        if issued is None:
            return False
        issued.consumed_at = now
        issued.save(update_fields=["consumed_at"])
        VerificationRecord.objects.create(
            biz_token=biz_token, app=app, request_id=request_id,
            liveness_type=issued.liveness_type, comparison_type=issued.comparison_type,
            biz_no=issued.biz_no, result_code=RESULT_CODES["BIZ_TOKEN_DENIED"],
            result_message="BIZ_TOKEN_DENIED", liveness={"session": "lost"})
        api_app_call_give_back(app=app)
        lite_notify_due(biz_token=biz_token, now=now)
    logger.warning("session lost from Redis, record closed and call given back: %s",
                   biz_token_ref(biz_token))
    return True


def lost_sessions_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Every few minutes (faceid.lost_sessions_settle): settles the sessions Redis lost whose
    client never came back to verify, so their calls are given back too. Records within a
    minute of their expiry are left alone: Redis may have let the session expire a moment
    before the record, and that is an abandoned session, not a lost one."""
    now = now or datetime.now(UTC)
    settled = 0
    open_records = (BizTokenRecord.objects.select_related("app")
                    .filter(consumed_at__isnull=True, expires_at__gt=now + timedelta(minutes=1))
                    .order_by("created_at")[:limit])
    for record in open_records:
        if session_read(biz_token=record.biz_token) is None and lost_session_settle(
                app=record.app, biz_token=record.biz_token, request_id="lost-sessions-sweep"):
            settled += 1
    return settled


def verify_admitted(*, app: ApiApp, form, files, request_id: str, started: float) -> dict:
    """verify's work once the guard admitted `app`, from `biz_token` and `meglive_data` in
    form / files: the one code path of the SDK's verify (verify_run) and of the FaceID Lite
    capture page (lite_page.py), which differ only in how their caller is admitted."""
    biz_token = (form.get("biz_token") or "").strip()
    if not biz_token:
        raise errors.missing_argument("biz_token")
    session = session_read(biz_token=biz_token)
    if session is None:
        lost_session_settle(app=app, biz_token=biz_token, request_id=request_id)
        return _answer("BIZ_TOKEN_DENIED", biz_no="")
    if session.meta.get("app_id") != app.pk:
        return _answer("BIZ_TOKEN_DENIED", biz_no="")
    meta = session.meta
    liveness_type = meta["liveness_type"]
    payload = None
    frames: tuple[bytes, ...] = ()
    if liveness_type != "raw_image":
        blob = _package_bytes(form, files)
        if not blob:
            raise errors.missing_argument("meglive_data")
        try:
            payload = package_open(blob, biz_token=biz_token,
                                   challenge_id=(session.challenge or {}).get("challenge_id"))
            frames = package_frames_read(payload, max_side=settings.IMAGE_MAX_SIDE)
        except PackageError as exc:
            logger.info("meglive_data refused: %s", exc)
            raise errors.meglive_data_error() from None
        if payload["biz_token"] != biz_token:
            raise errors.meglive_data_biz_token_not_match()
        if session.challenge is None:
            return _answer("LIVING_NOT_START", biz_no=meta["biz_no"],
                           liveness_type=liveness_type)
        if payload["challenge_id"] != session.challenge["challenge_id"]:
            return _answer("LIVING_IN_PROGRESS", biz_no=meta["biz_no"],
                           liveness_type=liveness_type)

    ttl = session_ttl(biz_token=biz_token)
    consumed = session_consume(biz_token=biz_token)
    if consumed is None:    # another verify of this token got there first
        return _answer("BIZ_TOKEN_DENIED", biz_no="")
    BizTokenRecord.objects.filter(biz_token=biz_token).update(consumed_at=datetime.now(UTC))
    if payload is not None and consumed.challenge is not None and (
            time.time() > consumed.challenge["verify_by"]):
        return _finish(app, consumed, request_id, started, "LIVING_OVERTIME")
    risk = None
    if payload is not None and meta["options"].get("device_risk") == "1":
        risk = device_risk(payload.get("device"))
        if risk["risky"]:     # the blocking policy: no model runs, force_compare or not
            return _finish(app, consumed, request_id, started, "FAIL_LIVING_FACE_ATTACK",
                           VerifyResult(Reason.PRESENTATION_ATTACK, frames=len(payload["frames"])),
                           payload=payload, risk=risk)

    job = _job(consumed, payload, frames)
    if meta["comparison_type"] == "1":
        idcard = consumed.idcard
        found = identity_lookup(name=idcard["name"], id_number=idcard["number"])
        if found.status != LookupStatus.FOUND:
            return _finish(app, consumed, request_id, started, found.status.value)
        assert found.photo is not None      # FOUND always carries the photo
        job = replace(job, photos={"idcard": found.photo})
    try:
        result = verification_analyse(job, session_ref=biz_token_ref(biz_token))
    except AnalysisUnavailable:
        # Nothing was decided: give the token back so the client can verify again.
        session_restore(session=consumed, ttl_seconds=ttl)
        BizTokenRecord.objects.filter(biz_token=biz_token).update(consumed_at=None)
        raise errors.internal_error() from None
    return _finish(app, consumed, request_id, started, REASON_RESULTS[result.reason], result,
                   payload=payload, risk=risk)


def _job(session: Session, payload: dict | None, frames: tuple[bytes, ...]) -> VerifyJob:
    """The session's options and challenge translated into ml's own job (ml/jobs.py), with
    the package's frames as package_frames_read decoded them."""
    meta, options, challenge = session.meta, session.meta["options"], session.challenge or {}
    embeddings = meta.get("embeddings", {})
    level = str(options.get("security_level", "2"))
    check = LIVENESS_CHECKS[meta["liveness_type"]]
    times = payload["frames"] if payload is not None else []
    return VerifyJob(
        check=check,
        references={REFERENCE_NAMES[k]: v for k, v in embeddings.items()
                    if k in REFERENCE_NAMES},
        far=SECURITY_LEVEL_FAR[level],
        pad_level=pad_level_of(level, str(options.get("liveness_level", "0"))),
        pad_threshold=settings.PAD_LIVE_THRESHOLD,
        frames=frames,
        times_ms=tuple(float(f["t"]) for f in times),
        probe=embeddings.get("image") if check == LivenessCheck.NONE else None,
        actions=ActionChallenge(tuple(challenge["actions"]),
                                float(challenge["action_timeout_s"]) * 1000)
        if check == LivenessCheck.ACTIONS else None,
        flash=FlashSequence(tuple((c, int(s), int(e)) for c, s, e in challenge["colours"]))
        if check == LivenessCheck.FLASH else None,
        eyes_open_required=options.get("eyes_close_detection") == "1",
        face_replace_check=options.get("face_replace_detection", "1") == "1",
        single_face_required=options.get("multiple_faces_detection") == "1",
        compare_when_not_live=options.get("force_compare") == "1")


def _finish(app: ApiApp, session: Session, request_id: str, started: float, outcome: str,
            result: VerifyResult | None = None, payload: dict | None = None,
            risk: dict | None = None) -> dict:
    """Records and answers a verification that ended as `outcome` (a RESULT_CODES name); the
    models' `result` when they ran; the device `risk` when device_risk=1 judged it."""
    meta, options = session.meta, session.meta["options"]
    result = result if result is not None else VerifyResult(Reason.SAME_PERSON)
    code = RESULT_CODES[outcome]
    body = _answer(outcome, biz_no=meta["biz_no"], liveness_type=meta["liveness_type"])
    best = result.best_frame
    checks = result.checks
    if risk is not None:    # the device report was judged first (device_risk=1)
        checks = {DEVICE_CHECK: FAILED if risk["risky"] else PASSED, **checks}
    attack_result = attack_result_of(checks)
    if options.get("verbose", "1") == "1":
        body["verification"] = result.comparisons
        if attack_result is not None:
            body["attack_result"] = attack_result
        if best is not None:
            body["images"] = {"image_best": best["jpeg"]}
        if risk is not None:
            body["device_risk"] = risk
    liveness = result.liveness
    asked = _challenge_asked(session.challenge)
    if asked:
        # The record keeps what was asked beside what the models detected: the session (and
        # its challenge) leaves Redis now, and the operator's review compares the two.
        liveness = {**liveness, "challenge": asked}
    report = device_summary(payload.get("device")) if payload is not None else None
    if report is not None or risk is not None:
        liveness = {**liveness, "device": {"report": report,
                                           **({"risk": risk} if risk is not None else {})}}
    time_used = elapsed_ms(started)
    try:
        with transaction.atomic():
            record = VerificationRecord.objects.create(
                biz_token=session.biz_token, app=app, request_id=request_id,
                liveness_type=meta["liveness_type"], comparison_type=meta["comparison_type"],
                biz_no=meta["biz_no"], result_code=code, result_message=outcome,
                security_level=str(options.get("security_level", "2")),
                confidences=result.comparisons, attack_result=attack_result,
                passive=result.passive,
                liveness=liveness, frames=result.frames,
                time_used_ms=time_used, model_ms=result.model_ms,
                best_frame_encrypted=encrypt_bytes(base64.b64decode(best["jpeg"]))
                if best else None,
                frame_strip_encrypted=encrypt_bytes(base64.b64decode(result.strip["jpeg"]))
                if result.strip else None,
                frame_strip=result.strip["frames"] if result.strip else [])
            video_key = _media_keep(record, options, payload, best)
            lite_notify_due(biz_token=session.biz_token, now=record.created_at)
    except IntegrityError:
        # The session is consumed exactly once, so this means a bug or a restored race.
        logger.error("a verification of session %s was already recorded",
                     biz_token_ref(session.biz_token))
        raise errors.internal_error() from None
    if video_key:
        body["video_key"] = video_key
    return body


def _challenge_asked(challenge: dict | None) -> dict:
    """What the SDK was told to do: the actions with their time limit, or the flash colours
    with their times (ms from the flash's start). Empty for a still capture or no challenge."""
    if not challenge:
        return {}
    if "actions" in challenge:
        return {"actions": list(challenge["actions"]),
                "action_timeout_s": challenge.get("action_timeout_s")}
    if "colours" in challenge:
        return {"colours": [list(segment) for segment in challenge["colours"]]}
    return {}


def _media_keep(record: VerificationRecord, options: dict, payload: dict | None,
                best: dict | None) -> str | None:
    """get_liveness_video 1 (frames and best image), 2 (frames), 3 (best image): encrypted
    with a fresh key returned once as video_key; we keep its digest and the ciphertext."""
    kind = str(options.get("get_liveness_video", "0"))
    if kind == "0" or payload is None:
        return None
    media = {}
    if kind in ("1", "2"):
        media["frames"] = payload["frames"]
    if kind in ("1", "3") and best is not None:
        media["image_best"] = best["jpeg"]
    video_key = Fernet.generate_key().decode()
    LivenessMedia.objects.create(
        verification=record, video_key_digest=keyed_digest(video_key), kind=kind,
        ciphertext=Fernet(video_key.encode()).encrypt(json.dumps(media).encode()),
        purge_after=datetime.now(UTC) + timedelta(days=settings.LIVENESS_MEDIA_RETENTION_DAYS))
    return video_key


def liveness_media(*, form, client_ip: str) -> dict:
    """The client server fetches what get_liveness_video kept, with its signature, the
    biz_token and the video_key verify returned. The guard admits it like any other call of
    the app (active, from its allowed networks); reading back its own media needs no
    permission of its own and no concurrency slot."""
    with guard(form=form, client_ip=client_ip, permission=None, slot=False) as app:
        return _liveness_media(app=app, form=form)


def _liveness_media(*, app: ApiApp, form) -> dict:
    biz_token, video_key = form.get("biz_token"), form.get("video_key")
    for name, value in (("biz_token", biz_token), ("video_key", video_key)):
        if not value:
            raise errors.missing_argument(name)
    media = LivenessMedia.objects.filter(
        verification__biz_token=biz_token, verification__app=app,
        video_key_digest=keyed_digest(video_key)).first()
    if media is None:
        raise errors.bad_argument("video_key")
    return json.loads(Fernet(video_key.encode()).decrypt(bytes(media.ciphertext)))


def liveness_media_purge(*, now: datetime | None = None) -> int:
    deleted, _ = LivenessMedia.objects.filter(purge_after__lte=now or datetime.now(UTC)).delete()
    return deleted
