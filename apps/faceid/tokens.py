"""Issuing biz_tokens: the get_biz_token flow, from its parameters to the stored session. Who
may call, and the answers when they may not, are the guard's (guard.py)."""

import base64
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.conf import settings
from django.db import transaction
from redis.exceptions import RedisError

from apps.analysis.services import AnalysisUnavailable, references_analyse
from apps.core.crypto import encrypt_bytes, keyed_digest
from apps.core.images import CheckedImage, ImageTooLarge, ImageUnsupported, image_check
from apps.core.metrics import BIZ_TOKENS_ISSUED
from apps.tenants.models import ApiApp
from apps.tenants.services import api_app_call_count

from . import errors
from .guard import data_source_permission, guard, verify_permission
from .models import BizTokenRecord
from .params import BizTokenParams, biz_token_params_parse
from .sessions import biz_token_ref, session_delete, session_store

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class IssuedBizToken:
    biz_token: str
    expires_at: datetime
    extra: dict = field(default_factory=dict)


def biz_token_new(now: float) -> str:
    return f"{int(now)},{uuid.uuid4()}"


def reference_images_check(*, params: BizTokenParams, files) -> dict[str, CheckedImage]:
    """Decodes every image parameter of the request; the first bad one names the error."""
    checked: dict[str, CheckedImage] = {}
    for name in params.images:
        upload = files.get(name)
        if upload is None:  # sent as a text field, not a file: not an image we can read
            raise errors.image_unsupported_format(name)
        try:
            checked[name] = image_check(upload.read(), max_side=settings.IMAGE_MAX_SIDE)
        except ImageTooLarge:
            raise errors.invalid_image_size(name) from None
        except ImageUnsupported:
            raise errors.image_unsupported_format(name) from None
    return checked


REFERENCE_ORDER = ("image_ref1", "image_ref2", "image")


def references_check(*, params: BizTokenParams, images: dict[str, CheckedImage]) -> dict:
    """Runs face detection and embedding of every image on a worker, and applies the seed's
    rules: no face in image_ref1 / image_ref2 / image -> NO_FACE_FOUND: <the first such>;
    several faces in a reference -> its largest is used; several in raw_image's `image` ->
    MULTIPLE_FACES when fail_when_multiple_faces is 1; `image`'s largest face under
    face_quality_threshold -> LOW_QUALITY. multi_oriented_detection applies to the references.
    With return_faces=1 the faces are answered, errors included."""
    if not images:
        return {}
    rotate = params.options.get("multi_oriented_detection", "1") == "1"
    try:
        found = references_analyse(
            {name: base64.b64encode(image.data).decode() for name, image in images.items()},
            {name: rotate and name != "image" for name in images})
    except AnalysisUnavailable:
        raise errors.internal_error() from None
    faces = [{"image": name, **face} for name in REFERENCE_ORDER if name in found
             for face in found[name]["faces"]]
    extra = {"faces": faces} if params.options.get("return_faces") == "1" else {}
    for name in REFERENCE_ORDER:
        if name in found and not found[name]["faces"]:
            raise errors.no_face_found(name, extra)
    if "image" in found:
        image_faces = found["image"]["faces"]
        if len(image_faces) > 1 and params.options.get("fail_when_multiple_faces") == "1":
            raise errors.multiple_faces(extra)
        if image_faces[0]["quality"] < int(params.options.get("face_quality_threshold", 30)):
            raise errors.low_quality(extra)
    return {"found": found, "extra": extra}


def biz_token_permissions_check(*, app: ApiApp, params: BizTokenParams) -> None:
    """The mode asked needs its permission: comparisons at all, and KYC's data source."""
    verify_permission(app)
    if params.comparison_type == "1":
        data_source_permission(app)


def _reference_faces_sealed(references: dict | None) -> bytes | None:
    """The reference faces the worker cropped (ml/review_images.py), as one encrypted JSON
    {name: base64 JPEG}, for the operator's review; None when there is none."""
    faces = {name: found["face_jpeg"] for name, found in (references or {}).get("found", {}).items()
             if found.get("face_jpeg")}
    return encrypt_bytes(json.dumps(faces).encode()) if faces else None


def biz_token_create(*, app: ApiApp, params: BizTokenParams, images: dict[str, CheckedImage],
                     request_id: str, client_ip: str,
                     references: dict | None = None,
                     on_record: Callable[[BizTokenRecord], object] | None = None,
                     ) -> IssuedBizToken:
    """Counts the call, records the token durably and opens its session in Redis, together.

    The database work is one transaction and the Redis write is its last step: if Redis fails
    nothing is recorded or counted; if the commit fails the session is removed again.
    on_record: more database work of the caller's for this token (FaceID Lite's record), done
    in the same transaction before the session is written; what it raises undoes the issue.
    """
    now = time.time()
    biz_token = biz_token_new(now)
    ttl = settings.BIZ_TOKEN_TTL_SECONDS
    created_at = datetime.fromtimestamp(now, UTC)
    expires_at = datetime.fromtimestamp(now + ttl, UTC)
    meta = {
        "app_id": app.pk,
        "liveness_type": params.liveness_type,
        "comparison_type": params.comparison_type,
        "uuid": params.uuid,
        "biz_no": params.biz_no,
        "options": params.options,
        "request_id": request_id,
        "created_at": int(now),
        "reference_images": {name: image.summary() for name, image in images.items()},
        # embeddings made by the worker now, so that verify does not recompute them
        "embeddings": {name: found["embedding"] for name, found in
                       (references or {}).get("found", {}).items()},
    }
    idcard = ({"name": params.idcard_name, "number": params.idcard_number}
              if params.comparison_type == "1" else None)
    stored = False
    try:
        with transaction.atomic():
            api_app_call_count(app=app)
            record = BizTokenRecord.objects.create(
                biz_token=biz_token,
                app=app,
                request_id=request_id,
                liveness_type=params.liveness_type,
                comparison_type=params.comparison_type,
                uuid=params.uuid,
                biz_no=params.biz_no,
                idcard_number_digest=keyed_digest(params.idcard_number) if idcard else "",
                idcard_name_digest=keyed_digest(params.idcard_name) if idcard else "",
                options=params.options,
                reference_images=meta["reference_images"],
                reference_faces_encrypted=_reference_faces_sealed(references),
                client_ip=client_ip or None,
                created_at=created_at,
                expires_at=expires_at,
            )
            if on_record is not None:
                on_record(record)
            session_store(biz_token=biz_token, meta=meta, idcard=idcard,
                          images={name: image.data for name, image in images.items()},
                          ttl_seconds=ttl)
            stored = True
    except BaseException:
        if stored:  # the commit failed after the session was written: take it back
            try:
                session_delete(biz_token=biz_token)
            except RedisError:
                logger.error("could not remove the session of uncommitted token %s",
                             biz_token_ref(biz_token))
        raise
    BIZ_TOKENS_ISSUED.labels(params.liveness_type).inc()
    return IssuedBizToken(biz_token=biz_token, expires_at=expires_at)


def biz_token_issue(*, form, files, client_ip: str, request_id: str) -> IssuedBizToken:
    """The get_biz_token request, in the order its errors are reported.

    The guard: signature fields -> who is calling (403) -> may they call now (403) -> an
    in-flight slot (403); then, within it: the parameters (400) -> permission for the mode
    asked (403) -> the images (400) -> their faces, on a worker (400) -> quota (403) and issue.
    """
    with guard(form=form, client_ip=client_ip, permission=None, slot=True) as app:
        params = biz_token_params_parse(form, set(files.keys()))
        biz_token_permissions_check(app=app, params=params)  # after the parameters: it needs the mode
        images = reference_images_check(params=params, files=files)
        references = references_check(params=params, images=images)
        issued = biz_token_create(app=app, params=params, images=images,
                                  request_id=request_id, client_ip=client_ip,
                                  references=references)
        return IssuedBizToken(biz_token=issued.biz_token, expires_at=issued.expires_at,
                              extra=references.get("extra", {}))
