"""When a FaceID Lite notify_url callback becomes due, and handing its attempts to a worker.

A Lite session's callback is due once its result is final: when verify's code records the
verification of the wrapped biz_token (verification.py calls `lite_notify_due` inside the
transaction that writes the record), or when the session ended without one (lite.py's sweep).
Marking it due is one conditional update (waiting -> pending), so it happens once per Lite
token whoever gets there first; the first attempt is queued only after that transaction
commits, so the worker reads the committed record and the user's request never waits for it.

The delivery itself (building `data`, signing it, posting, the backoff) is lite.py's
`lite_notify_deliver`, run by the task named NOTIFY_TASK (tasks.py). It is queued here by name:
this module is imported by verification.py, which lite.py imports, so importing the task (and
through it lite.py) from here would make a circle.
"""

import logging
from datetime import datetime

from celery import current_app
from django.conf import settings
from django.db import transaction

from .models import LiteToken

logger = logging.getLogger(__name__)

NOTIFY_TASK = "faceid.lite_notify"


def lite_notify_queue() -> str:
    return settings.LITE_NOTIFY_QUEUE or settings.CELERY_TASK_DEFAULT_QUEUE


def lite_notify_send(lite_id: int, attempt: int, countdown: float = 0.0) -> None:
    """Queues attempt number `attempt` of the Lite token's callback. A broker that cannot take
    it is logged, not raised: the record says the callback is pending and when, and the sweep
    (every few minutes) sends the attempts that are overdue."""
    try:
        current_app.send_task(NOTIFY_TASK, args=(lite_id, attempt), countdown=countdown,
                              queue=lite_notify_queue())
    except Exception:  # noqa: BLE001 - any broker failure; the sweep sends it later
        logger.exception("could not queue attempt %d of Lite notify %d", attempt, lite_id)


def lite_notify_pending(lite_id: int, *, now: datetime) -> bool:
    """Marks the callback of a Lite token that is still waiting as due now, and queues its
    first attempt once the current transaction commits (at once outside one). False when it
    was already due, delivered or failed."""
    marked = LiteToken.objects.filter(
        pk=lite_id, notify_state=LiteToken.NotifyState.WAITING,
    ).update(notify_state=LiteToken.NotifyState.PENDING, notify_next_attempt_at=now)
    if marked:
        transaction.on_commit(lambda: lite_notify_send(lite_id, attempt=1))
    return marked == 1


def lite_notify_due(*, biz_token: str, now: datetime) -> None:
    """The verification of biz_token is being recorded: if a Lite token wraps it, its callback
    is due. Call inside the transaction that writes the record."""
    lite_id = (LiteToken.objects.filter(biz_token_record__biz_token=biz_token,
                                        notify_state=LiteToken.NotifyState.WAITING)
               .values_list("pk", flat=True).first())
    if lite_id is not None:
        lite_notify_pending(lite_id, now=now)
