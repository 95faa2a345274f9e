from celery import shared_task


@shared_task(name="core.ping")
def ping() -> str:
    """Round trip through the broker and a worker; used by the embedded runner and tests."""
    return "pong"
