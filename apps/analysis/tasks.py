"""Celery tasks that run the models. Only workers execute them; the web imports this module
for the task names but never calls into ml/ (its imports are inside the task bodies).

Inputs travel through Redis under a job key (pictures and frames are too large for broker
messages); the key is left in place until the web side deletes it, so a task whose worker died
is delivered again (acks_late, reject_on_worker_lost) and finds its input.
"""

import base64
import json
from typing import cast

from celery import shared_task

from apps.core.redis import redis_client


class ImageGone(Exception):
    """The input the task was given expired from Redis before the task ran."""


def _job(job_key: str) -> bytes:
    data = redis_client().get(job_key)
    if data is None:
        raise ImageGone(job_key)
    return cast(bytes, data)  # the client does not decode responses


@shared_task(name="analysis.still_image")
def still_image(image_key: str, attributes: bool = False, multi_oriented: bool = False) -> dict:
    """Analyses one still picture held in Redis under image_key (ml/still.py)."""
    from ml.image import load_rgb
    from ml.still import still_analyse

    return still_analyse(load_rgb(_job(image_key)), attributes=attributes,
                         multi_oriented=multi_oriented)


@shared_task(name="analysis.references")
def references(job_key: str) -> dict:
    """get_biz_token's reference photos: faces and the largest face's embedding each."""
    from ml.session import reference_analyse

    job = json.loads(_job(job_key))
    return {name: reference_analyse(base64.b64decode(data),
                                    multi_oriented=job["multi_oriented"].get(name, False))
            for name, data in job["images"].items()}


@shared_task(name="analysis.verify")
def verify(job_key: str, session_ref: str = "") -> dict:
    """verify's model work: load the typed job, run ml's one entry point, return its result
    (ml/jobs.py, ml/session.py). `session_ref` is not needed for the work: it names the session
    (a digest of its biz_token) in the worker's own view of its tasks (`celery inspect
    active`), for operations."""
    from ml.jobs import VerifyJob
    from ml.session import session_verify

    return session_verify(VerifyJob.from_bytes(_job(job_key))).as_dict()
