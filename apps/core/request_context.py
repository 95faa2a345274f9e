"""Per-request values every layer may read (log lines above all) without passing them down."""

import time
import uuid
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def elapsed_ms(started: float | None) -> int:
    """Whole milliseconds since a time.perf_counter() reading (0 when there is none)."""
    return int((time.perf_counter() - started) * 1000) if started is not None else 0


def request_id_new() -> str:
    """Ids look like the vendor's: "<unix seconds>,<uuid4>"."""
    return f"{int(time.time())},{uuid.uuid4()}"
