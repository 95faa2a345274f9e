from django.urls import path, re_path

from .apis import ApiNotFoundApi, BizTokenCreateApi

app_name = "faceid"

urlpatterns = [
    path("v3/sdk/get_biz_token", BizTokenCreateApi.as_view(), name="get_biz_token"),
    re_path(r"^.*$", ApiNotFoundApi.as_view(), name="api_not_found"),
]
