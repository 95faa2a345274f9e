"""FaceID surface views: thin, and every answer in the vendor's shape."""

import logging

from django.core.exceptions import SuspiciousOperation
from redis.exceptions import RedisError
from rest_framework.exceptions import MethodNotAllowed, ParseError, UnsupportedMediaType
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.core.metrics import FACEID_ERRORS
from apps.core.net import client_ip
from apps.core.request_context import elapsed_ms

from . import errors
from .errors import FaceIdError
from .lite import lite_result, lite_token_issue
from .lite_page import lite_page_start, lite_page_verify
from .tokens import biz_token_issue
from .verification import liveness_media, sdk_start, verify_run

logger = logging.getLogger(__name__)


class FaceIdApi(APIView):
    """Base of the FaceID views: maps every failure to `{request_id, time_used, error}`."""

    def initial(self, request, *args, **kwargs) -> None:
        """Refuses a text field holding a NUL byte before any endpoint reads it: no field of the
        contract can hold one, and PostgreSQL cannot store or even compare one (found by
        tests/test_fuzz.py: a biz_token or video_key with a NUL answered 500)."""
        super().initial(request, *args, **kwargs)
        if request.method == "POST":
            for key, value in request.data.items():
                if isinstance(value, str) and "\x00" in value:
                    raise errors.bad_argument(key)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, FaceIdError):
            error = exc
        elif isinstance(exc, MethodNotAllowed):
            error = errors.api_not_found()  # e.g. GET get_biz_token: no such API
        elif isinstance(exc, (ParseError, UnsupportedMediaType, SuspiciousOperation)):
            # Not a form we can read: wrong content type, broken multipart, or more fields /
            # files than Django's DATA_UPLOAD_MAX_NUMBER_FIELDS / _FILES allow.
            error = errors.bad_argument("form-data")
        elif isinstance(exc, RedisError):
            logger.error("redis unavailable: %s", exc)
            error = errors.internal_error()
        else:
            logger.exception("unhandled error in %s", type(self).__name__)
            error = errors.internal_error()
        FACEID_ERRORS.labels(error.code).inc()
        return self.answer({**error.extra, "error": error.error}, status=error.status)

    def answer(self, body: dict, status: int = 200) -> Response:
        request = self.request
        time_used = elapsed_ms(getattr(request, "started_at", None))
        return Response({"request_id": request.request_id, "time_used": time_used, **body},
                        status=status)


class BizTokenCreateApi(FaceIdApi):
    """POST /faceid/v3/sdk/get_biz_token (multipart form-data)."""

    def post(self, request: Request) -> Response:
        issued = biz_token_issue(form=request.data, files=request.FILES,
                                 client_ip=client_ip(request), request_id=request.request_id)
        return self.answer({"biz_token": issued.biz_token, **issued.extra})


class SdkStartApi(FaceIdApi):
    """POST /faceid/v3/sdk/start (ours, for the SDK): biz_token in, challenge out."""

    def post(self, request: Request) -> Response:
        return self.answer(sdk_start(form=request.data))


class VerifyApi(FaceIdApi):
    """POST /faceid/v3/sdk/verify (multipart: sign, sign_version, biz_token, meglive_data)."""

    def post(self, request: Request) -> Response:
        return self.answer(verify_run(form=request.data, files=request.FILES,
                                      client_ip=client_ip(request),
                                      request_id=request.request_id,
                                      started=request.started_at))


class LivenessMediaApi(FaceIdApi):
    """POST /faceid/v3/sdk/get_liveness_video (ours): what get_liveness_video kept."""

    def post(self, request: Request) -> Response:
        return self.answer(liveness_media(form=request.data, client_ip=client_ip(request)))


class LiteTokenCreateApi(FaceIdApi):
    """POST /faceid/lite/get_token (multipart form-data, api_key and api_secret)."""

    def post(self, request: Request) -> Response:
        issued = lite_token_issue(form=request.data, files=request.FILES,
                                  client_ip=client_ip(request), request_id=request.request_id)
        return self.answer({"token": issued.token, "biz_id": issued.biz_id,
                            "expired_time": int(issued.expires_at.timestamp()),
                            **issued.extra})


class LiteResultApi(FaceIdApi):
    """GET /faceid/lite/get_result?api_key&api_secret&biz_id[&return_image=1]."""

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        for key, value in request.query_params.items():   # the same rule as a form's NUL
            if "\x00" in value:
                raise errors.bad_argument(key)

    def get(self, request: Request) -> Response:
        return self.answer(lite_result(form=request.query_params, client_ip=client_ip(request),
                                       request_id=request.request_id))


class LitePageStartApi(FaceIdApi):
    """POST /faceid/lite/page/start (the capture page: page_key): the session's challenge."""

    def post(self, request: Request) -> Response:
        return self.answer(lite_page_start(form=request.data, client_ip=client_ip(request)))


class LitePageVerifyApi(FaceIdApi):
    """POST /faceid/lite/page/verify (the capture page: page_key, meglive_data): "done" and
    the way back to return_url; never the verdict."""

    def post(self, request: Request) -> Response:
        return self.answer(lite_page_verify(form=request.data, files=request.FILES,
                                            client_ip=client_ip(request),
                                            request_id=request.request_id,
                                            started=request.started_at))


class ApiNotFoundApi(FaceIdApi):
    """Any other path under /faceid/, whatever the method."""

    def _not_found(self, request: Request, *args, **kwargs) -> Response:
        raise errors.api_not_found()

    get = post = put = patch = delete = head = options = _not_found
