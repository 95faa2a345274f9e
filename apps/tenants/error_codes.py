from enum import StrEnum


class AccessDeniedReason(StrEnum):
    """The <reason> of the vendor's `403 AUTHORIZATION_ERROR: <reason>`."""

    EXPIRED_SIGN = "EXPIRED_SIGN"
    INVALID_SIGN = "INVALID_SIGN"
    API_KEY_BE_DISCONTINUED = "API_KEY_BE_DISCONTINUED"
    IP_NOT_ALLOWED = "IP_NOT_ALLOWED"
    LIMIT_REACHED = "LIMIT_REACHED"
    MORE_RETRY_TIMES = "MORE_RETRY_TIMES"
    NO_VERIFY_PERMISSION = "NO_VERIFY_PERMISSION"
    NO_DATA_SOURCE_PERMISSION = "NO_DATA_SOURCE_PERMISSION"


class AccessDenied(Exception):
    def __init__(self, reason: AccessDeniedReason):
        super().__init__(reason.value)
        self.reason = reason


class ConcurrencyLimitExceeded(Exception):
    """The app already has as many requests in flight as its limit allows."""


class RateLimited(Exception):
    """The app has used its calls of the current minute."""
