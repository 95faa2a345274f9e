"""The flow every single-image API shares; the contracts (contracts.py) only read requests and
write answers.

authenticate (APPCODE or x-ca signature) -> admit (app active, caller IP, rate) -> read the
request and its picture (the contract) -> concurrency slot -> quota -> analysis on a worker
-> the answer, and the call's record (records.py) for every call that got past authentication.
"""

import logging

from django.db import transaction
from redis.exceptions import RedisError

from apps.analysis.services import AnalysisUnavailable, still_image_analyse
from apps.core.metrics import SINGLE_IMAGE_ANSWERS
from apps.tenants.error_codes import (
    AccessDenied,
    AccessDeniedReason,
    ConcurrencyLimitExceeded,
    RateLimited,
)
from apps.tenants.models import ApiApp
from apps.tenants.services import (
    api_app_authenticate_app_code,
    api_app_authenticate_xca,
    api_app_authorize,
    api_app_call_count,
    api_app_call_give_back,
    api_app_rate_check,
    concurrency_slot,
)
from apps.tenants.throttle import SourceThrottled, authentication_throttled

from .failures import Failure, Kind
from .messages import Incoming, Parsed
from .records import call_record

logger = logging.getLogger(__name__)


def caller_authenticate(headers: dict, client_ip: str) -> ApiApp:
    """`Authorization: APPCODE <code>`, else the x-ca-key / x-ca-timestamp / x-ca-signature
    headers (md5 of key&timestamp&secret). A source with too many refused credentials is
    refused first (LIMITED; apps/tenants/throttle.py)."""
    try:
        with authentication_throttled(client_ip):
            if headers.get("authorization"):
                return api_app_authenticate_app_code(authorization=headers["authorization"])
            if headers.get("x-ca-key") or headers.get("x-ca-signature"):
                return api_app_authenticate_xca(api_key=headers.get("x-ca-key", ""),
                                                timestamp_ms=headers.get("x-ca-timestamp", ""),
                                                signature=headers.get("x-ca-signature", ""))
    except SourceThrottled:
        raise Failure(Kind.LIMITED, "failed authentications from this source") from None
    except AccessDenied as exc:
        if exc.reason == AccessDeniedReason.EXPIRED_SIGN:
            raise Failure(Kind.SIGNATURE_EXPIRED) from None
        raise Failure(Kind.UNAUTHENTICATED) from None
    except RedisError as exc:
        raise Failure(Kind.UNAVAILABLE, f"redis: {exc}") from None
    raise Failure(Kind.UNAUTHENTICATED, "no credentials")


def caller_admit(*, app: ApiApp, client_ip: str) -> None:
    try:
        api_app_authorize(app=app, client_ip=client_ip)
        api_app_rate_check(app=app)
    except AccessDenied as exc:
        raise Failure(Kind.FORBIDDEN, exc.reason) from None
    except RateLimited:
        raise Failure(Kind.LIMITED, "rate") from None
    except RedisError as exc:
        raise Failure(Kind.UNAVAILABLE, f"redis: {exc}") from None


def still_analysis_run(*, app: ApiApp, picture: bytes, attributes: bool) -> dict:
    """Runs the analysis on a worker within the app's concurrency slot and quota. The call is
    counted (quota or none) when it reaches the models; a failure on our side gives it back."""
    try:
        with concurrency_slot(app=app):
            try:
                with transaction.atomic():
                    api_app_call_count(app=app)
            except AccessDenied:
                raise Failure(Kind.LIMITED, "quota") from None
            try:
                return still_image_analyse(picture, attributes=attributes)
            except AnalysisUnavailable as exc:
                api_app_call_give_back(app=app)
                raise Failure(Kind.UNAVAILABLE, str(exc)) from None
    except ConcurrencyLimitExceeded:
        raise Failure(Kind.LIMITED, "concurrency") from None
    except RedisError as exc:
        raise Failure(Kind.UNAVAILABLE, f"redis: {exc}") from None


def single_image_handle(contract, incoming: Incoming, *, oversized: bool,
                        started: float) -> tuple[int, dict]:
    """One call of a single-image API, start to answer, in the contract's format. A call whose
    app is known (authenticated) is recorded, whatever it ended in; before that there is no app
    to file it under, and the source throttle (apps/tenants/throttle.py) deals with those."""
    parsed = Parsed()
    app: ApiApp | None = None
    try:
        if oversized:
            raise Failure(Kind.IMAGE_TOO_LARGE, "request body over the contract's limit")
        app = caller_authenticate(incoming.headers, incoming.client_ip)
        caller_admit(app=app, client_ip=incoming.client_ip)
        contract.parse(incoming, parsed, app)
        analysis = still_analysis_run(app=app, picture=parsed.picture,
                                      attributes=contract.attributes)
        status, body = contract.answer(analysis, parsed, incoming, started)
        face = analysis.get("face")   # seed 000 answers "no face" as a success
        call_record(app=app, seed=contract.seed, incoming=incoming, parsed=parsed,
                    outcome=contract.verdict(face, parsed) if face is not None
                    else Failure(Kind.NO_FACE), started=started)
        SINGLE_IMAGE_ANSWERS.labels(type(contract).__name__, "analysed").inc()
        return status, body
    except Failure as failure:
        log = logger.error if failure.kind == Kind.UNAVAILABLE else logger.info
        log("single-image call refused: %s", failure)
        SINGLE_IMAGE_ANSWERS.labels(type(contract).__name__, failure.kind.value).inc()
        status, body = contract.refuse(failure, parsed, incoming, started)
        if app is not None:
            call_record(app=app, seed=contract.seed, incoming=incoming, parsed=parsed,
                        outcome=failure, started=started)
        return status, body
