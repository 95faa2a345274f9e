"""Why a single-image call did not produce a verdict, independent of any vendor's codes.

Services raise `Failure(kind)`; each contract module maps every kind to its own HTTP status,
code and message, so one flow serves three response formats.
"""

from enum import StrEnum


class Kind(StrEnum):
    UNAUTHENTICATED = "unauthenticated"      # no, malformed or unknown credentials
    SIGNATURE_EXPIRED = "signature_expired"  # x-ca timestamp outside the window, or replayed
    FORBIDDEN = "forbidden"                  # app discontinued, or caller IP not allowed
    LIMITED = "limited"                      # quota used up, rate or concurrency limit
    BAD_REQUEST = "bad_request"              # malformed body, missing field, wrong type
    IMAGE_MISSING = "image_missing"          # no picture given
    IMAGE_FORMAT = "image_format"            # not base64, not an image, unsupported, corrupt
    IMAGE_TOO_LARGE = "image_too_large"      # bytes or pixels above the contract's limit
    IMAGE_TOO_SMALL = "image_too_small"      # fewer pixels than the contract's minimum
    IMAGE_TOKEN_MISMATCH = "image_token_mismatch"  # seed 000's file.token does not match
    URL_FAILED = "url_failed"                # the url could not (or may not) be fetched
    NO_FACE = "no_face"
    FACE_UNANALYSABLE = "face_unanalysable"  # a face, but too small or cut to analyse
    UNAVAILABLE = "unavailable"              # workers did not answer in time, internal error


class Failure(Exception):
    def __init__(self, kind: Kind, detail: str = ""):
        super().__init__(f"{kind}: {detail}" if detail else kind.value)
        self.kind, self.detail = kind, detail
