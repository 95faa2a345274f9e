"""What passes between the view, the shared flow (services.py) and a contract (contracts.py).

A leaf module: the flow and the contracts both import it, and it imports neither, so they never
import each other.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Incoming:
    """What the flow needs of an HTTP request (the view builds it)."""

    method: str
    content_type: str
    body: bytes
    query: dict
    form: dict
    headers: dict          # lower-case names
    client_ip: str
    request_id: str


@dataclass
class Parsed:
    """What a contract read from the request (filled as far as parsing got)."""

    request_id: str = ""
    values: dict = field(default_factory=dict)
    picture: bytes = b""
