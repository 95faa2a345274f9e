"""The one way in for every FaceID endpoint that acts for an app (get_biz_token, verify,
get_liveness_video): who is calling, may they, and the answer when they may not.

    with guard(form=form, client_ip=ip, permission=verify_permission, slot=True) as app:
        ...  # the endpoint's own work, for `app`

In order: `sign` and `sign_version` (400, nothing else is read before the caller is known) ->
the signature (403 INVALID_SIGN / EXPIRED_SIGN; a one-time signature is spent here; a source
with too many refused signatures is refused first, 403 MORE_RETRY_TIMES, apps/tenants/throttle.py)
-> the app
may call from here and now (403 API_KEY_BE_DISCONTINUED, then IP_NOT_ALLOWED) -> the
endpoint's permission, if it names one (403) -> one of the app's in-flight slots, if the
endpoint holds one (403 CONCURRENCY_LIMIT_EXCEEDED) -> the block. The tenants' refusals raised
inside the block (a permission that depends on the parameters, the quota) are answered in the
same format, so every caller's 403 is made here.

The FaceID Lite surface (lite.py) sends its api_key and api_secret in clear instead of a sign:
`credentials=key_and_secret` reads those two fields first and checks the pair (a wrong one is
INVALID_SIGN, counted by the same throttle); everything after it is the same sequence.

The FaceID Lite capture page (lite_page.py) is the user's browser, not the app's server: it
proves itself with the page key its page was served with (`credentials=lite_page_key`), and
`from_app_servers=False` leaves out the app's allowed networks (they list the app's servers, and
a browser calls from anywhere); the app must still be active, and the permission, the slot and
the throttle are the same. Every other caller keeps the default, so the SDK's verify and the
app server's calls are admitted exactly as before.

What differs between the callers is a parameter, not a copy of the sequence:
get_biz_token holds a slot and checks its permission inside the block, after its parameters
(the permission depends on the mode asked); verify checks NO_VERIFY_PERMISSION before its slot;
get_liveness_video reads back what verify kept: no permission of its own and no slot.
"""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from apps.tenants.error_codes import AccessDenied, AccessDeniedReason, ConcurrencyLimitExceeded
from apps.tenants.models import ApiApp
from apps.tenants.services import (
    api_app_authenticate,
    api_app_authenticate_secret,
    api_app_authorize,
    concurrency_slot,
)
from apps.tenants.throttle import SourceThrottled, authentication_throttled

from . import errors
from .params import key_and_secret_fields, signature_fields

Permission = Callable[[ApiApp], None]
# Reads a caller's credential fields from the form (400 when missing, before anything else is
# read) and returns the check of them, run inside the throttle.
Credentials = Callable[[object], Callable[[], ApiApp]]


def signed(form) -> Callable[[], ApiApp]:
    sign = signature_fields(form)
    return lambda: api_app_authenticate(sign=sign)


def key_and_secret(form) -> Callable[[], ApiApp]:
    api_key, api_secret = key_and_secret_fields(form)
    return lambda: api_app_authenticate_secret(api_key=api_key, api_secret=api_secret)


def verify_permission(app: ApiApp) -> None:
    """The app may run liveness sessions and comparisons at all."""
    if not app.can_verify:
        raise AccessDenied(AccessDeniedReason.NO_VERIFY_PERMISSION)


def data_source_permission(app: ApiApp) -> None:
    """The app may compare against the identity data source (comparison_type 1, KYC)."""
    if not app.can_use_data_source:
        raise AccessDenied(AccessDeniedReason.NO_DATA_SOURCE_PERMISSION)


@contextmanager
def guard(*, form, client_ip: str, permission: Permission | None, slot: bool,
          credentials: Credentials = signed, from_app_servers: bool = True) -> Iterator[ApiApp]:
    """Admits the caller and yields its app; see the module's docstring for the order.

    credentials: how the caller proves who it is (`signed`: sign and sign_version;
    `key_and_secret`: the Lite surface's api_key and api_secret).
    permission: checked after the app is admitted and before the slot (None: the endpoint
    needs none beyond being an active app calling from its allowed networks).
    slot: hold one of the app's concurrency_limit slots for the whole block.
    from_app_servers: the caller is the app's server, so its allowed networks apply (False:
    the user's browser on the Lite capture page).
    """
    try:
        authenticate = credentials(form)
        with authentication_throttled(client_ip):
            app = authenticate()
        api_app_authorize(app=app, client_ip=client_ip, from_app_servers=from_app_servers)
        if permission is not None:
            permission(app)
        if slot:
            with concurrency_slot(app=app):
                yield app
        else:
            yield app
    except AccessDenied as exc:
        raise errors.authorization_error(exc.reason) from None
    except ConcurrencyLimitExceeded:
        raise errors.concurrency_limit_exceeded() from None
    except SourceThrottled:
        raise errors.authorization_error(AccessDeniedReason.MORE_RETRY_TIMES) from None
