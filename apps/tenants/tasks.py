from celery import shared_task


@shared_task(name="tenants.spent_signatures_purge")
def spent_signatures_purge() -> int:
    """Hourly (CELERY_BEAT_SCHEDULE): forgets spent signatures that can no longer be replayed."""
    from .services import spent_signatures_purge as purge

    return purge()
