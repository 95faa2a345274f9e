from celery import shared_task


@shared_task(name="faceid.media_purge")
def media_purge() -> int:
    """Deletes get_liveness_video media past their retention (run hourly by the beat)."""
    from .verification import liveness_media_purge

    return liveness_media_purge()
