"""FaceID Lite, the web / H5 flow (docs/WEB.md): get_token and get_result.

A Lite token wraps an ordinary biz_token: get_token issues one through tokens.py (the same
parameters, reference checks, quota, record and Redis session as get_biz_token) and records the
Lite fields beside it in the same transaction. The capture page then runs that session with the
SDK's own start and verify code, so a Lite verification is a VerificationRecord like any other,
and get_result reads the status from the session and that record: nothing is copied here that
could disagree with them.

get_token, in order: api_key, api_secret (400) -> the pair (403, counted by the throttle) -> the
app may call from here and now (403) -> a slot (403) -> Lite's fields and get_biz_token's
(400) -> permission for the mode (403) -> where notify_url leads (400) -> biz_no not used before
by the app (400) -> the images and their faces (400) -> quota (403) and issue.

get_result, in order: api_key, api_secret (400) -> the pair (403) -> the app (403) -> biz_id
and return_image (400) -> a Lite token of this app no older than LITE_RESULT_RETENTION_SECONDS
(400 BAD_ARGUMENTS: biz_id) -> its status; a final one (OK / FAILED) is counted, and answered
at most LITE_RESULT_MAX_READS times (403 AUTHORIZATION_ERROR: MORE_RETRY_TIMES after).
"""

import base64
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from apps.core.crypto import decrypt_bytes, keyed_digest
from apps.core.fetch import FetchError, url_destination_check
from apps.tenants.error_codes import AccessDeniedReason

from . import errors
from .guard import guard, key_and_secret
from .models import BizTokenRecord, LiteToken, VerificationRecord
from .params import lite_params_parse
from .results import RESULT_CODES
from .sessions import session_read, session_was_consumed
from .tokens import (
    biz_token_create,
    biz_token_new,
    biz_token_permissions_check,
    reference_images_check,
    references_check,
)
from .verification import lost_session_settle

# The verification outcomes in which the person was judged live and compared: get_result's OK.
# Every other recorded outcome (an attack, a failed action, overtime, a data source that could
# not answer, a lost session) is FAILED; result_code and result_message say which.
JUDGED_OUTCOMES = ("SUCCESS", "PASS_LIVING_NOT_THE_SAME")
# A session gone within this long of its record's expiry may simply have expired a moment
# early in Redis: it is not settled as lost (the lost-sessions sweep leaves the same margin).
LOST_SESSION_MARGIN = timedelta(minutes=1)


class LiteStatus:
    NOT_STARTED = "NOT_STARTED"
    PROCESSING = "PROCESSING"
    OK = "OK"
    FAILED = "FAILED"


FINAL_STATUSES = (LiteStatus.OK, LiteStatus.FAILED)


@dataclass(frozen=True)
class IssuedLiteToken:
    token: str
    biz_id: str
    expires_at: datetime
    extra: dict = field(default_factory=dict)


def _notify_url_check(url: str) -> None:
    """Our server will call notify_url, so it must lead to a public address now (the call will
    check again: DNS may answer otherwise by then). return_url is only a place the user's
    browser is sent to, so its form is all that is checked."""
    try:
        url_destination_check(url, settings.LITE_NOTIFY_ALLOWED_NETWORKS,
                              settings.LITE_NOTIFY_RESOLVE_TIMEOUT_SECONDS)
    except FetchError:
        raise errors.bad_argument("notify_url") from None


def _biz_no_taken(app_id: int, biz_no: str) -> bool:
    return LiteToken.objects.filter(app_id=app_id, biz_no=biz_no).exists()


def lite_token_issue(*, form, files, client_ip: str, request_id: str) -> IssuedLiteToken:
    """POST /faceid/lite/get_token; the order of its answers is the module's docstring's."""
    with guard(form=form, client_ip=client_ip, permission=None, slot=True,
               credentials=key_and_secret) as app:
        params = lite_params_parse(form, set(files.keys()))
        biz_token_permissions_check(app=app, params=params.session)
        _notify_url_check(params.notify_url)
        # Before the images reach a worker; the unique constraint settles a race below.
        if _biz_no_taken(app.pk, params.biz_no):
            raise errors.bad_argument("biz_no")
        images = reference_images_check(params=params.session, files=files)
        references = references_check(params=params.session, images=images)
        token = secrets.token_urlsafe(32)
        biz_id = biz_token_new(time.time())

        def lite_record(record: BizTokenRecord) -> None:
            try:
                with transaction.atomic():
                    LiteToken.objects.create(
                        app=app, biz_token_record=record, token_digest=keyed_digest(token),
                        biz_id=biz_id, biz_no=params.biz_no,
                        biz_extra_data=params.biz_extra_data, web_title=params.web_title,
                        return_url=params.return_url, notify_url=params.notify_url,
                        liveness_type=params.session.liveness_type,
                        created_at=record.created_at, expires_at=record.expires_at)
            except IntegrityError:
                # Another request took the biz_no since the early check; only the unique
                # constraint can see that (every other unique field here is freshly random).
                if LiteToken.objects.filter(app=app, biz_no=params.biz_no).exists():
                    raise errors.bad_argument("biz_no") from None
                raise

        issued = biz_token_create(app=app, params=params.session, images=images,
                                  request_id=request_id, client_ip=client_ip,
                                  references=references, on_record=lite_record)
        return IssuedLiteToken(token=token, biz_id=biz_id, expires_at=issued.expires_at,
                               extra=references.get("extra", {}))


# ----------------------------------------------------------------------------- get_result


@dataclass(frozen=True)
class LiteOutcome:
    status: str
    verification: VerificationRecord | None = None
    result: str = ""        # a RESULT_CODES name, for a final status


def lite_outcome(lite: LiteToken, *, request_id: str) -> LiteOutcome:
    """Where the Lite token's session stands, read from the session and its verification.

    NOT_STARTED: the session is waiting and no capture has asked for a challenge. PROCESSING: a
    capture has its challenge, or a verify took the session and is recording it. OK / FAILED:
    a verification was recorded (JUDGED_OUTCOMES is OK). A session Redis lost is settled here as
    verify settles it (a BIZ_TOKEN_DENIED record, the call given back); one that expired without
    any verification is FAILED with LIVING_OVERTIME.
    """
    biz_token = lite.biz_token_record.biz_token
    recorded = VerificationRecord.objects.filter(biz_token=biz_token).first()
    if recorded is None:
        session = session_read(biz_token=biz_token)
        if session is not None:
            return LiteOutcome(LiteStatus.NOT_STARTED if session.challenge is None
                               else LiteStatus.PROCESSING)
        if session_was_consumed(biz_token=biz_token):
            return LiteOutcome(LiteStatus.PROCESSING)
        still_running = lite.biz_token_record.expires_at > datetime.now(UTC) + LOST_SESSION_MARGIN
        if still_running and lost_session_settle(app=lite.app, biz_token=biz_token,
                                                 request_id=request_id):
            recorded = VerificationRecord.objects.filter(biz_token=biz_token).first()
    if recorded is None:
        return LiteOutcome(LiteStatus.FAILED, result="LIVING_OVERTIME")
    status = LiteStatus.OK if recorded.result_message in JUDGED_OUTCOMES else LiteStatus.FAILED
    return LiteOutcome(status, verification=recorded, result=recorded.result_message)


def _read_counted(lite: LiteToken) -> bool:
    """Counts one read of a final result; False when the limit was already reached (atomic:
    concurrent readers cannot together read more than the limit)."""
    return LiteToken.objects.filter(
        pk=lite.pk, result_reads__lt=settings.LITE_RESULT_MAX_READS,
    ).update(result_reads=F("result_reads") + 1) == 1


def _flag(form, key: str) -> bool:
    value = form.get(key) or "0"
    if value not in ("0", "1"):
        raise errors.bad_argument(key)
    return value == "1"


def _result_body(lite: LiteToken, outcome: LiteOutcome, *, return_image: bool) -> dict:
    body: dict = {"status": outcome.status,
                  "biz_info": {"biz_id": lite.biz_id, "biz_no": lite.biz_no,
                               "biz_extra_data": lite.biz_extra_data}}
    if outcome.status not in FINAL_STATUSES:
        return body
    body.update(result_code=RESULT_CODES[outcome.result], result_message=outcome.result)
    recorded = outcome.verification
    if recorded is None:
        return body
    body["verification"] = recorded.confidences
    if recorded.attack is not None:
        body["attack_result"] = {"score": recorded.attack["score"],
                                 "threshold": recorded.attack["threshold"],
                                 "result": not recorded.attack["passed"]}
    if return_image and recorded.best_frame_encrypted is not None:
        best = decrypt_bytes(bytes(recorded.best_frame_encrypted))
        body["images"] = {"image_best": base64.b64encode(best).decode()}
    return body


def lite_result(*, form, client_ip: str, request_id: str) -> dict:
    """GET /faceid/lite/get_result; the order of its answers is the module's docstring's."""
    with guard(form=form, client_ip=client_ip, permission=None, slot=False,
               credentials=key_and_secret) as app:
        biz_id = form.get("biz_id") or ""
        if not biz_id:
            raise errors.missing_argument("biz_id")
        return_image = _flag(form, "return_image")
        kept_since = datetime.now(UTC) - timedelta(seconds=settings.LITE_RESULT_RETENTION_SECONDS)
        lite = (LiteToken.objects.select_related("app", "biz_token_record")
                .filter(app=app, biz_id=biz_id, created_at__gt=kept_since).first()
                if len(biz_id) <= 64 else None)
        if lite is None:
            raise errors.bad_argument("biz_id")
        outcome = lite_outcome(lite, request_id=request_id)
        if outcome.status in FINAL_STATUSES and not _read_counted(lite):
            raise errors.authorization_error(AccessDeniedReason.MORE_RETRY_TIMES)
        return _result_body(lite, outcome, return_image=return_image)
