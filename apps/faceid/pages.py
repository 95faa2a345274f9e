"""The FaceID surface's one HTML page: FaceID Lite's capture page (lite_page.py says how it
runs). Every other FaceID answer is JSON (apis.py)."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from .lite_page import LitePageRefused, PageRefusal, lite_page_open

# A refused link: gone for good once used (410), unknown or expired otherwise (404).
REFUSAL_STATUS = {PageRefusal.USED: 410, PageRefusal.UNKNOWN: 404}


def _page_headers(response: HttpResponse) -> HttpResponse:
    """The page carries a credential (its page key): no cache keeps it, no Referer sends its
    token's URL on, no other site frames it; the camera only for this origin."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"
    response["X-Frame-Options"] = "DENY"
    response["Permissions-Policy"] = "camera=(self), microphone=()"
    return response


@require_GET
def lite_capture_page(request: HttpRequest) -> HttpResponse:
    """GET /faceid/lite/do?token=...: the capture page, once per token."""
    try:
        page = lite_page_open(token=request.GET.get("token", ""))
    except LitePageRefused as refused:
        response = render(request, "faceid/lite_page.html",
                          {"refusal": refused.refusal.value, "config": None},
                          status=REFUSAL_STATUS[refused.refusal])
        return _page_headers(response)
    lite = page.lite
    config = {"page_key": page.page_key, "liveness_type": lite.liveness_type,
              "start_url": reverse("faceid:lite_page_start"),
              "verify_url": reverse("faceid:lite_page_verify")}
    response = render(request, "faceid/lite_page.html",
                      {"refusal": "", "config": config, "web_title": lite.web_title})
    return _page_headers(response)
