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

The notify_url callback (lite_notify.py says when it is due): `lite_notify_deliver` posts
`data` (lite_result_body as JSON) and `sign` = sha1(api_secret + data), through the fetcher's
address checks again; `lite_notify_sweep` makes the callbacks of sessions that ended unused due,
and sends again the attempts whose messages were lost.

get_result, in order: api_key, api_secret (400) -> the pair (403) -> the app (403) -> biz_id
and return_image (400) -> a Lite token of this app no older than LITE_RESULT_RETENTION_SECONDS
(400 BAD_ARGUMENTS: biz_id) -> its status; a final one (OK / FAILED) is counted, and answered
at most LITE_RESULT_MAX_READS times (403 AUTHORIZATION_ERROR: MORE_RETRY_TIMES after).
"""

import base64
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F

from apps.core.crypto import decrypt_bytes, keyed_digest
from apps.core.fetch import FetchError, FetchLimits, FetchRefused, post_form, url_destination_check
from apps.tenants.error_codes import AccessDeniedReason
from apps.tenants.services import api_app_secret

from . import errors
from .guard import guard, key_and_secret
from .lite_notify import lite_notify_pending, lite_notify_send
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

logger = logging.getLogger(__name__)

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
                        action_http_method=params.action_http_method,
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


def lite_result_body(lite: LiteToken, outcome: LiteOutcome, *, return_image: bool) -> dict:
    """The result as get_result answers it (less request_id and time_used), and as the notify
    callback's `data` carries it (without images): one function, so the two cannot differ."""
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
    if recorded.attack_result is not None:
        body["attack_result"] = recorded.attack_result
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
        return lite_result_body(lite, outcome, return_image=return_image)


# ----------------------------------------------------------------------------- notify_url

# Past its next-attempt time by this much, a pending callback's message is taken as lost (a
# broker restart, a worker killed mid-attempt) and the sweep sends the attempt again; an
# attempt that is still running claims its number first, so a late duplicate does nothing.
NOTIFY_LOST_AFTER = timedelta(minutes=1)
# What of the receiver's answer is read: only its status matters.
NOTIFY_ANSWER_BYTES = 64 * 1024


@dataclass(frozen=True)
class NotifyPayload:
    data: str
    sign: str


def lite_notify_payload(lite: LiteToken) -> NotifyPayload | None:
    """The callback's form: `data`, the final result as get_result computes it (no images), as
    compact JSON; `sign`, sha1(api_secret + data) in lowercase hex over the UTF-8 bytes. None
    while the result is not final (nothing to say yet)."""
    outcome = lite_outcome(lite, request_id="lite-notify")
    if outcome.status not in FINAL_STATUSES:
        return None
    data = json.dumps(lite_result_body(lite, outcome, return_image=False),
                      ensure_ascii=False, separators=(",", ":"))
    sign = hashlib.sha1((api_app_secret(lite.app) + data).encode()).hexdigest()
    return NotifyPayload(data=data, sign=sign)


def _notify_post(lite: LiteToken) -> tuple[str, bool]:
    """One POST of the callback: ("", _) when delivered (any 2xx), else (the error, whether
    trying again may help). The destination is checked again now, as the fetcher does for
    pictures: DNS may lead elsewhere than at get_token, and such a refusal is final."""
    payload = lite_notify_payload(lite)
    if payload is None:
        return "no final result yet", True
    limits = FetchLimits(max_bytes=NOTIFY_ANSWER_BYTES,
                         timeout_seconds=settings.LITE_NOTIFY_TIMEOUT_SECONDS, max_redirects=0,
                         allowed_networks=settings.LITE_NOTIFY_ALLOWED_NETWORKS)
    try:
        status = post_form(lite.notify_url, {"data": payload.data, "sign": payload.sign},
                           limits)
    except FetchRefused as exc:
        return f"refused: {exc.reason}", False
    except FetchError as exc:
        return exc.reason, True
    return ("", False) if 200 <= status < 300 else (f"HTTP {status}", True)


def _notify_backoff(attempt: int) -> float:
    """Seconds between attempt `attempt` and the next."""
    return (settings.LITE_NOTIFY_FIRST_RETRY_SECONDS
            * settings.LITE_NOTIFY_BACKOFF_FACTOR ** (attempt - 1))


def lite_notify_deliver(lite_id: int, attempt: int) -> str:
    """Attempt number `attempt` of a Lite token's callback (the task faceid.lite_notify).

    The attempt is claimed first by one conditional update (pending, and `attempt - 1` made so
    far), so a message delivered twice (a broker's redelivery, the sweep's resend) posts once.
    A 2xx ends it delivered; a refused address, or the last allowed attempt failing, ends it
    failed; any other failure queues the next attempt after the backoff. Returns the state."""
    now = datetime.now(UTC)
    pending = LiteToken.objects.filter(pk=lite_id, notify_state=LiteToken.NotifyState.PENDING)
    claimed = pending.filter(notify_attempts=attempt - 1).update(
        notify_attempts=attempt, notify_last_attempt_at=now,
        notify_next_attempt_at=now + timedelta(seconds=settings.LITE_NOTIFY_TIMEOUT_SECONDS)
        + NOTIFY_LOST_AFTER)
    if not claimed:
        return "skipped"
    lite = LiteToken.objects.select_related("app", "biz_token_record").get(pk=lite_id)
    error, may_retry = _notify_post(lite)
    mine = pending.filter(notify_attempts=attempt)
    if not error:
        mine.update(notify_state=LiteToken.NotifyState.DELIVERED, notify_last_error="",
                    notify_next_attempt_at=None)
        logger.info("Lite notify %s delivered on attempt %d", lite.biz_id, attempt)
        return LiteToken.NotifyState.DELIVERED
    error = error[:200]
    if not may_retry or attempt >= settings.LITE_NOTIFY_MAX_ATTEMPTS:
        mine.update(notify_state=LiteToken.NotifyState.FAILED, notify_last_error=error,
                    notify_next_attempt_at=None)
        logger.warning("Lite notify %s failed after %d attempts: %s", lite.biz_id, attempt, error)
        return LiteToken.NotifyState.FAILED
    delay = _notify_backoff(attempt)
    mine.update(notify_last_error=error,
                notify_next_attempt_at=datetime.now(UTC) + timedelta(seconds=delay))
    logger.info("Lite notify %s attempt %d failed (%s), next in %.0f s", lite.biz_id, attempt,
                error, delay)
    lite_notify_send(lite_id, attempt + 1, countdown=delay)
    return LiteToken.NotifyState.PENDING


def lite_notify_sweep(*, now: datetime | None = None, limit: int = 1000) -> int:
    """Every few minutes, with the lost-sessions sweep (faceid.lost_sessions_settle):

    - a Lite session that ended without a verification (expired unused, its record past expiry
      by LOST_SESSION_MARGIN, as the lost-sessions sweep counts it) gets its FAILED callback
      (LIVING_OVERTIME), if its result is still kept (LITE_RESULT_RETENTION_SECONDS);
    - a pending callback whose next attempt is overdue by NOTIFY_LOST_AFTER lost its message:
      the attempt is sent again (or, past the last one, the callback is failed).
    Returns how many callbacks it made due or sent again."""
    now = now or datetime.now(UTC)
    acted = 0
    kept_since = now - timedelta(seconds=settings.LITE_RESULT_RETENTION_SECONDS)
    ended_unused = (LiteToken.objects
                    .filter(notify_state=LiteToken.NotifyState.WAITING, created_at__gt=kept_since,
                            biz_token_record__expires_at__lte=now - LOST_SESSION_MARGIN)
                    .exclude(biz_token_record__biz_token__in=VerificationRecord.objects
                             .values("biz_token"))
                    .values_list("pk", flat=True)[:limit])
    for lite_id in ended_unused:
        with transaction.atomic():
            acted += lite_notify_pending(lite_id, now=now)
    overdue = (LiteToken.objects
               .filter(notify_state=LiteToken.NotifyState.PENDING,
                       notify_next_attempt_at__lt=now - NOTIFY_LOST_AFTER)
               .values_list("pk", "notify_attempts")[:limit])
    for lite_id, attempts in overdue:
        if attempts >= settings.LITE_NOTIFY_MAX_ATTEMPTS:
            LiteToken.objects.filter(pk=lite_id, notify_attempts=attempts).update(
                notify_state=LiteToken.NotifyState.FAILED, notify_next_attempt_at=None,
                notify_last_error="the last attempt was lost")
        else:
            LiteToken.objects.filter(pk=lite_id, notify_attempts=attempts).update(
                notify_next_attempt_at=now + timedelta(
                    seconds=settings.LITE_NOTIFY_TIMEOUT_SECONDS) + NOTIFY_LOST_AFTER)
            lite_notify_send(lite_id, attempts + 1)
        acted += 1
    return acted
