"""The single-image APIs' answers to errors the web stack meets before their views run
(apps/core/api_errors.py): the contract's own bad-request body, with the HTTP status saying what
was wrong (404 for a path under the API's prefix that is no API, 414, 431, ...)."""

import time

from .contracts import Contract
from .failures import Failure, Kind
from .messages import Incoming, Parsed


def error_format(contract: Contract):
    def answer(status: int, reason: str, request_id: str) -> tuple[int, dict]:
        incoming = Incoming("", "", b"", {}, {}, {}, "", request_id)
        kind = Kind.UNAVAILABLE if status >= 500 else Kind.BAD_REQUEST
        _, body = contract.refuse(Failure(kind, reason.lower()), Parsed(request_id=request_id),
                                  incoming, time.perf_counter())
        return status, body

    return answer
