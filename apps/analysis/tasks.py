"""Celery tasks that run the models. Only workers execute them; the web imports this module
for the task names but never calls into ml/ (its imports are inside the task bodies)."""

from celery import shared_task

from apps.core.redis import redis_client


class ImageGone(Exception):
    """The picture the task was given expired from Redis before the task ran."""


@shared_task(name="analysis.still_image")
def still_image(image_key: str, attributes: bool = False, multi_oriented: bool = False) -> dict:
    """Analyses one still picture held in Redis under image_key (ml/still.py)."""
    from ml.image import load_rgb
    from ml.still import still_analyse

    # The key is left in place: if this worker dies the task is delivered again and needs it.
    data = redis_client().get(image_key)
    if data is None:
        raise ImageGone(image_key)
    return still_analyse(load_rgb(data), attributes=attributes, multi_oriented=multi_oriented)
