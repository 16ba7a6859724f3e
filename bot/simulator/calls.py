"""What the simulator remembers about each request it answered."""

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Call:
    """One Web API call (or response_url post): decoded arguments, how they were sent
    ("query", "form" or "json"), and the answer given."""

    method: str
    args: dict[str, Any]
    ok: bool
    error: str | None
    response: dict[str, Any]
    at: float
    encoding: str = "json"


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: JSON body, status and extra headers."""

    body: dict[str, Any]
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
