"""Views of the single-image APIs: they turn the HTTP request into `Incoming` and the flow's
answer into JSON; everything else is in services.py and contracts.py."""

import logging
import time

from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from apps.core.net import client_ip, content_length

from .contracts import BioDetection, Contract, FaceLiveness, ImageLiveness
from .failures import Failure, Kind
from .messages import Incoming, Parsed
from .services import single_image_handle

logger = logging.getLogger(__name__)


@method_decorator(csrf_exempt, name="dispatch")
class SingleImageApi(View):
    contract: Contract
    http_method_names = ["post"]
    limits_own_body = True      # oversized bodies are refused in the contract's own format

    def _incoming(self, request: HttpRequest, oversized: bool) -> Incoming:
        body = b"" if oversized else request.body
        form: dict = {}
        if request.method == "POST" and not oversized and "json" not in request.content_type:
            form = {k: v for k, v in request.POST.items()}
            form.update({k: f.read() for k, f in request.FILES.items()})
        return Incoming(method=request.method, content_type=request.content_type or "",
                        body=body, query=request.GET.dict(), form=form,
                        headers={k.lower(): v for k, v in request.headers.items()},
                        client_ip=client_ip(request), request_id=request.request_id)

    def _respond(self, request: HttpRequest) -> JsonResponse:
        started = getattr(request, "started_at", time.perf_counter())
        oversized = content_length(request) > self.contract.max_body_bytes
        try:
            incoming = self._incoming(request, oversized)
        except Exception as exc:  # a body Django cannot parse (broken multipart, ...)
            logger.info("unreadable request body: %r", exc)
            incoming = Incoming(request.method, request.content_type or "", b"", {}, {}, {},
                                client_ip(request), request.request_id)
            status, body = self.contract.refuse(Failure(Kind.BAD_REQUEST), Parsed(), incoming,
                                                started)
            return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})
        status, body = single_image_handle(self.contract, incoming, oversized=oversized,
                                           started=started)
        return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})

    def post(self, request: HttpRequest) -> JsonResponse:
        return self._respond(request)

    def http_method_not_allowed(self, request, *args, **kwargs) -> JsonResponse:
        incoming = Incoming(request.method, "", b"", {}, {}, {}, "", request.request_id)
        status, body = self.contract.refuse(Failure(Kind.BAD_REQUEST, "method"), Parsed(), incoming,
                                            time.perf_counter())
        return JsonResponse({**body}, status=405, json_dumps_params={"ensure_ascii": False})


class BioDetectionApi(SingleImageApi):
    contract = BioDetection()


class FaceLivenessApi(SingleImageApi):
    contract = FaceLiveness()


class ImageLivenessApi(SingleImageApi):
    contract = ImageLiveness()
    http_method_names = ["get", "post"]

    def get(self, request: HttpRequest) -> JsonResponse:
        return self._respond(request)
