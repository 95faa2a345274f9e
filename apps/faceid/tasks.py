from celery import shared_task


@shared_task(name="faceid.media_purge")
def media_purge() -> int:
    """Deletes get_liveness_video media past their retention (run hourly by the beat)."""
    from .verification import liveness_media_purge

    return liveness_media_purge()


@shared_task(name="faceid.lost_sessions_settle")
def lost_sessions_settle() -> int:
    """Settles sessions Redis lost whose clients never came back (every 5 minutes, the beat)."""
    from .verification import lost_sessions_sweep

    return lost_sessions_sweep()
