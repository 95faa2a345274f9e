from django.urls import path, re_path

from .apis import (
    ApiNotFoundApi,
    BizTokenCreateApi,
    LitePageStartApi,
    LitePageVerifyApi,
    LiteResultApi,
    LiteTokenCreateApi,
    LivenessMediaApi,
    SdkStartApi,
    VerifyApi,
)
from .pages import lite_capture_page

app_name = "faceid"

urlpatterns = [
    path("v3/sdk/get_biz_token", BizTokenCreateApi.as_view(), name="get_biz_token"),
    path("v3/sdk/start", SdkStartApi.as_view(), name="sdk_start"),
    path("v3/sdk/verify", VerifyApi.as_view(), name="verify"),
    path("v3/sdk/get_liveness_video", LivenessMediaApi.as_view(), name="get_liveness_video"),
    path("lite/get_token", LiteTokenCreateApi.as_view(), name="lite_get_token"),
    path("lite/get_result", LiteResultApi.as_view(), name="lite_get_result"),
    path("lite/do", lite_capture_page, name="lite_do"),
    path("lite/page/start", LitePageStartApi.as_view(), name="lite_page_start"),
    path("lite/page/verify", LitePageVerifyApi.as_view(), name="lite_page_verify"),
    re_path(r"^.*$", ApiNotFoundApi.as_view(), name="api_not_found"),
]
