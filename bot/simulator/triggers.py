"""Trigger ids: usable once, and only for a few seconds after Slack issues them."""

import time
from collections.abc import Iterable

from .spec import ApiError

TRIGGER_TTL = 3.0  # seconds, per Slack's interactivity docs


class Triggers:
    """Which trigger ids were issued (and when), used, or forced to expire."""

    def __init__(self) -> None:
        self._issued: dict[str, float] = {}
        self._used: set[str] = set()
        self._expired: set[str] = set()
        self._count = 0

    def issue(self) -> str:
        """A fresh trigger id that expires TRIGGER_TTL seconds from now."""
        self._count += 1
        trigger_id = f"{self._count}.{1_000_000 + self._count}.{self._count:032x}"
        self._issued[trigger_id] = time.monotonic()
        return trigger_id

    def expire(self, trigger_ids: Iterable[str] = ()) -> None:
        """Expire the given ids, or when none are given every id issued or used so far."""
        chosen = set(trigger_ids) or set(self._issued) | self._used
        self._expired |= chosen

    def check(self, trigger_id: str) -> None:
        """Raise the error Slack gives for an expired or already used trigger."""
        issued_at = self._issued.get(trigger_id)
        stale = issued_at is not None and time.monotonic() - issued_at > TRIGGER_TTL
        if trigger_id in self._expired or stale:
            raise ApiError("expired_trigger_id", f"[ERROR] trigger '{trigger_id}' has expired")
        if trigger_id in self._used:
            raise ApiError("exchanged_trigger_id", f"[ERROR] trigger '{trigger_id}' was already used")

    def use(self, trigger_id: str) -> None:
        """Mark a trigger as spent."""
        self._used.add(trigger_id)
