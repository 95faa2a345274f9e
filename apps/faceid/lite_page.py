"""FaceID Lite's capture page (docs/WEB.md, slice 3): the page, its start and its verify.

`GET /faceid/lite/do?token=...` takes the Lite token once (one conditional update: of two loads
of the same link, one gets the page) and serves the page with a fresh page key. The token's URL
can leak (browser history, a proxy's log, a Referer), so once used it opens nothing; the page
key exists only in the page served, and the page's two calls present it:

- `POST /faceid/lite/page/start` runs the SDK's own `sdk_start` on the wrapped biz_token: the
  same challenge service, package key and attempt limit (SDK_MAX_ATTEMPTS) as the SDK's start.
- `POST /faceid/lite/page/verify` runs verify's own code (`verify_admitted`) on the wrapped
  biz_token with the page's meglive_data: the models on the workers, the VerificationRecord,
  the notify_url callback made due in the same transaction.

Both are admitted by the same guard as every FaceID caller (throttle, the app active, the
permission, verify's concurrency slot), with the page key as the credential and
`from_app_servers=False`: the browser calls from the user's network, not the app's servers.

The browser learns only whether the session is over ("done") and where to go next (return_url,
by GET or POST as action_http_method asks, with biz_id and biz_no): never a score or verdict.
The client's server reads the result from get_result or the signed callback.
"""

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from apps.core.crypto import keyed_digest
from apps.tenants.error_codes import AccessDenied, AccessDeniedReason
from apps.tenants.models import ApiApp

from . import errors
from .guard import guard, verify_permission
from .models import LiteToken
from .sessions import session_read
from .verification import sdk_start, verify_admitted

# Longer than any token or page key we issue (43 characters): a longer one is no lookup.
MAX_CREDENTIAL_CHARS = 128


class PageRefusal(Enum):
    UNKNOWN = "unknown"     # never issued, or its session's hour is over
    USED = "used"           # the page was already served for it


class LitePageRefused(Exception):
    def __init__(self, refusal: PageRefusal):
        super().__init__(refusal.value)
        self.refusal = refusal


@dataclass(frozen=True)
class LitePage:
    lite: LiteToken
    page_key: str       # given to this page only; the database keeps its keyed digest


def lite_page_open(*, token: str) -> LitePage:
    """Takes the Lite token for the page (single use) and makes the page's key. Refused
    (LitePageRefused) for a token never issued or expired, and for one already used."""
    if not token or len(token) > MAX_CREDENTIAL_CHARS:
        raise LitePageRefused(PageRefusal.UNKNOWN)
    digest = keyed_digest(token)
    now = datetime.now(UTC)
    page_key = secrets.token_urlsafe(32)
    taken = LiteToken.objects.filter(
        token_digest=digest, token_used_at__isnull=True, expires_at__gt=now,
    ).update(token_used_at=now, page_key_digest=keyed_digest(page_key))
    if not taken:
        used = LiteToken.objects.filter(token_digest=digest, token_used_at__isnull=False,
                                        expires_at__gt=now).exists()
        raise LitePageRefused(PageRefusal.USED if used else PageRefusal.UNKNOWN)
    lite = LiteToken.objects.select_related("app", "biz_token_record").get(token_digest=digest)
    return LitePage(lite=lite, page_key=page_key)


def _page_key(form) -> str:
    page_key = (form.get("page_key") or "").strip()
    if not page_key:
        raise errors.missing_argument("page_key")
    return page_key


def _lite_of_page_key(page_key: str) -> LiteToken | None:
    if len(page_key) > MAX_CREDENTIAL_CHARS:
        return None
    return (LiteToken.objects.select_related("app", "biz_token_record")
            .filter(page_key_digest=keyed_digest(page_key)).first())


def lite_page_key(form) -> Callable[[], ApiApp]:
    """The guard's credentials for the page's calls: the page key, which plays the sign's role
    (a wrong one is INVALID_SIGN, counted against the source by the throttle)."""
    page_key = _page_key(form)

    def authenticate() -> ApiApp:
        lite = _lite_of_page_key(page_key)
        if lite is None:
            raise AccessDenied(AccessDeniedReason.INVALID_SIGN)
        return lite.app

    return authenticate


def _admitted_lite(form) -> LiteToken:
    """The Lite token of a page key the guard has just admitted."""
    lite = _lite_of_page_key(_page_key(form))
    assert lite is not None     # the guard found it a moment ago; tokens are never deleted
    return lite


def lite_page_start(*, form, client_ip: str) -> dict:
    """The page asks for its challenge: the SDK's start on the wrapped biz_token, so each call
    is an attempt and the SDK's attempt limit holds (403 MORE_RETRY_TIMES past it)."""
    with guard(form=form, client_ip=client_ip, permission=None, slot=False,
               credentials=lite_page_key, from_app_servers=False):
        lite = _admitted_lite(form)
        return sdk_start(form={"biz_token": lite.biz_token_record.biz_token})


def lite_return(lite: LiteToken) -> dict:
    """Where the browser goes once the session is over: return_url with biz_id and biz_no, in
    its query (GET) or as the fields of a form posted to it (POST)."""
    fields = {"biz_id": lite.biz_id, "biz_no": lite.biz_no}
    if lite.action_http_method == "POST":
        return {"method": "POST", "url": lite.return_url, "fields": fields}
    parts = urlsplit(lite.return_url)
    query = urlencode(parse_qsl(parts.query, keep_blank_values=True) + list(fields.items()))
    return {"method": "GET", "url": urlunsplit(parts._replace(query=query)), "fields": {}}


def lite_page_verify(*, form, files, client_ip: str, request_id: str, started: float) -> dict:
    """The page uploads its meglive_data; verify's own code judges it on the workers. The answer
    is "done" with the way back to return_url once the session is over (a verification was
    recorded, or the session had ended), else not done (the package was of an earlier attempt
    or came before any challenge: the page starts a new attempt). verify's verdict stays on
    the server; a malformed package is verify's 400 (MEGLIVE_DATA_ERROR ...)."""
    with guard(form=form, client_ip=client_ip, permission=verify_permission, slot=True,
               credentials=lite_page_key, from_app_servers=False) as app:
        lite = _admitted_lite(form)
        biz_token = lite.biz_token_record.biz_token
        # Only what verify reads, with the biz_token of this page's Lite token: a page key
        # never reaches another session, whatever the browser sends.
        verify_admitted(app=app, form={"biz_token": biz_token,
                                       "meglive_data": form.get("meglive_data")},
                        files=files, request_id=request_id, started=started)
        if session_read(biz_token=biz_token) is not None:
            return {"done": False}
        return {"done": True, "return": lite_return(lite)}
