"""Per-request values every layer may read (log lines above all) without passing them down."""

import time
import uuid
from contextvars import ContextVar

current_request_id: ContextVar[str] = ContextVar("current_request_id", default="-")


def request_id_new() -> str:
    """Ids look like the vendor's: "<unix seconds>,<uuid4>"."""
    return f"{int(time.time())},{uuid.uuid4()}"
