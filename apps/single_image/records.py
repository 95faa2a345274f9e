"""The durable record of each single-image call (SingleImageCall): one INSERT after the answer is
written. The answer is the product; the record is bookkeeping about it, so a failed write is
logged and counted and the caller still gets the answer."""

import logging

from django.db import DatabaseError, transaction

from apps.core.metrics import SINGLE_IMAGE_RECORDS_LOST
from apps.core.net import ip_or_none
from apps.core.request_context import elapsed_ms
from apps.tenants.models import ApiApp

from .failures import Failure
from .messages import Incoming, Parsed, Verdict
from .models import SingleImageCall

logger = logging.getLogger(__name__)


def call_record(*, app: ApiApp, seed: str, incoming: Incoming, parsed: Parsed,
                outcome: Verdict | Failure, started: float) -> None:
    """Records a call that ended in `outcome`: the answer's verdict, or the failure that left it
    without one. Never raises for the database."""
    if isinstance(outcome, Verdict):
        verdict, detail = ("live" if outcome.live else "attack"), ""
        scores = {"live_probability": outcome.live_probability, "threshold": outcome.threshold,
                  "attack_species": outcome.attack_species[:32]}
    else:
        verdict, detail, scores = outcome.kind.value, outcome.detail[:200], {}
    try:
        with transaction.atomic():      # a savepoint, should a caller's transaction be open
            SingleImageCall.objects.create(
                app=app, contract=seed, request_id=incoming.request_id,
                client_request_id=parsed.request_id, verdict=verdict, detail=detail,
                duration_ms=elapsed_ms(started), client_ip=ip_or_none(incoming.client_ip),
                **scores)
    except DatabaseError as exc:
        SINGLE_IMAGE_RECORDS_LOST.inc()
        logger.error("single-image call %s answered but not recorded: %s",
                     incoming.request_id, type(exc).__name__)



# The single-image list as CSV (the admin's "Export CSV", docs/ADMIN.md): the call's facts; no
# picture (none is stored) and no client IP (personal data the operator rarely needs in a file).
SINGLE_IMAGE_CSV_COLUMNS = [
    ("created_at", lambda c: c.created_at),
    ("app", lambda c: c.app.name),
    ("contract", lambda c: c.contract),
    ("request_id", lambda c: c.request_id),
    ("client_request_id", lambda c: c.client_request_id),
    ("verdict", lambda c: c.verdict),
    ("detail", lambda c: c.detail),
    ("live_probability", lambda c: c.live_probability),
    ("threshold", lambda c: c.threshold),
    ("attack_species", lambda c: c.attack_species),
    ("duration_ms", lambda c: c.duration_ms),
]
