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


@dataclass(frozen=True)
class Verdict:
    """What an answer said of the judged face, in our own terms rather than a vendor's: the
    call's record keeps it (records.py), so calls of the three contracts read alike."""

    live: bool
    live_probability: float    # the passive decision's P(live) of the face
    threshold: float           # the point on that scale where this answer turned live
    attack_species: str = ""   # the most probable attack class, when not live
