from celery import shared_task


@shared_task(name="faceid.media_purge")
def media_purge() -> int:
    """Deletes get_liveness_video media past their retention (run hourly by the beat)."""
    from .verification import liveness_media_purge

    return liveness_media_purge()


@shared_task(name="faceid.lost_sessions_settle")
def lost_sessions_settle() -> int:
    """Settles sessions Redis lost whose clients never came back (every 5 minutes, the beat);
    then the Lite callbacks of sessions that ended unused, and those whose attempt was lost."""
    from .lite import lite_notify_sweep
    from .verification import lost_sessions_sweep

    settled = lost_sessions_sweep()
    lite_notify_sweep()
    return settled


@shared_task(name="faceid.lite_notify")
def lite_notify(lite_id: int, attempt: int) -> str:
    """One attempt of a FaceID Lite notify_url callback (queued by lite_notify.py)."""
    from .lite import lite_notify_deliver

    return lite_notify_deliver(lite_id, attempt)
