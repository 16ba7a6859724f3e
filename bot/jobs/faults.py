"""Crash points at the step boundaries of flows, for tests only.

A flow calls `step("rooms.channel_created")` wherever a crash would leave work half done: after
a Slack call and before recording its result, and the other way round. Nothing happens unless
a test armed that point, either in this process with `arm()` (it raises `Crash`, which no
handler catches, so the job stays leased exactly as a dead process leaves it), or in a served
process through `WARROOM_CRASH_AT=point[,point…]` (the process exits at once, as `kill -9` would).
"""

from __future__ import annotations

import os

_armed: dict[str, int] = {}
_exit_at = frozenset(filter(None, os.environ.get("WARROOM_CRASH_AT", "").split(",")))
KILLED_EXIT_CODE = 137


class Crash(BaseException):
    """The process 'died' here: not an `Exception`, so no retry or failure path sees it."""


def arm(point: str, times: int = 1) -> None:
    """Crash the next `times` times `point` is reached in this process."""
    _armed[point] = times


def disarm() -> None:
    """Forget every armed point."""
    _armed.clear()


def step(point: str) -> None:
    """Mark a step boundary; crash here when a test asked for it."""
    if point in _exit_at:
        os._exit(KILLED_EXIT_CODE)
    left = _armed.get(point, 0)
    if left > 0:
        _armed[point] = left - 1
        raise Crash(point)
