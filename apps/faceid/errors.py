"""The FaceID surface's error table (seed 003). Every error this surface answers is made here.

Bodies are `{"request_id", "time_used", "error"}`: the seed marks request_id and time_used as
always returned, and `error` carries the vendor's text exactly.
"""

from apps.tenants.error_codes import AccessDeniedReason


class FaceIdError(Exception):
    def __init__(self, status: int, error: str, extra: dict | None = None):
        super().__init__(error)
        self.status = status
        self.error = error
        self.extra = extra or {}  # fields answered beside `error` (return_faces' faces)

    @property
    def code(self) -> str:
        """The error without its parameter, for metrics: "BAD_ARGUMENTS: x" -> "BAD_ARGUMENTS"."""
        return self.error.split(":", 1)[0].strip()


def missing_argument(key: str) -> FaceIdError:
    return FaceIdError(400, f"MISSING_ARGUMENTS: {key}")


def bad_argument(key: str) -> FaceIdError:
    return FaceIdError(400, f"BAD_ARGUMENTS: {key}")


def image_unsupported_format(param: str) -> FaceIdError:
    return FaceIdError(400, f"IMAGE_ERROR_UNSUPPORTED_FORMAT: {param}")


def invalid_image_size(param: str) -> FaceIdError:
    return FaceIdError(400, f"INVALID_IMAGE_SIZE: {param}")


def authorization_error(reason: AccessDeniedReason) -> FaceIdError:
    return FaceIdError(403, f"AUTHORIZATION_ERROR: {reason.value}")


def concurrency_limit_exceeded() -> FaceIdError:
    return FaceIdError(403, "CONCURRENCY_LIMIT_EXCEEDED")


def api_not_found() -> FaceIdError:
    return FaceIdError(404, "API_NOT_FOUND")


def internal_error() -> FaceIdError:
    return FaceIdError(500, "INTERNAL_ERROR")


def no_face_found(param: str, extra: dict | None = None) -> FaceIdError:
    return FaceIdError(400, f"NO_FACE_FOUND: {param}", extra)


def multiple_faces(extra: dict | None = None) -> FaceIdError:
    return FaceIdError(400, "MULTIPLE_FACES", extra)


def low_quality(extra: dict | None = None) -> FaceIdError:
    return FaceIdError(400, "LOW_QUALITY", extra)


def meglive_data_error() -> FaceIdError:
    return FaceIdError(400, "MEGLIVE_DATA_ERROR")


def meglive_data_biz_token_not_match() -> FaceIdError:
    return FaceIdError(400, "MEGLIVE_DATA_BIZ_TOKEN_NOT_MATCH")


def biz_token_denied() -> FaceIdError:
    """The SDK presented a biz_token that is unknown, used, expired or not for an SDK."""
    return FaceIdError(400, "BIZ_TOKEN_DENIED")
