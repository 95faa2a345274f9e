from django.apps import AppConfig


class FaceIdConfig(AppConfig):
    name = "apps.faceid"
    label = "faceid"
    verbose_name = "FaceID sessions"

    def ready(self) -> None:
        from apps.core.api_errors import register

        register("/faceid/", faceid_error_format)


def faceid_error_format(status: int, reason: str, request_id: str) -> tuple[int, dict]:
    """FaceID's `{request_id, time_used, error}` for errors met before a view runs: an unknown
    path is API_NOT_FOUND, a server fault INTERNAL_ERROR, anything else the client sent wrong
    BAD_ARGUMENTS naming what (URI_TOO_LONG, HEADERS_TOO_LARGE, BAD_REQUEST, ...)."""
    error = {404: "API_NOT_FOUND"}.get(status) or (
        "INTERNAL_ERROR" if status >= 500 else f"BAD_ARGUMENTS: {reason}")
    return status, {"request_id": request_id, "time_used": 0, "error": error}
