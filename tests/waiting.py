"""Waiting, in tests, for what another thread or process does in its own time."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from bot.jobs.dispatcher import LEASE
from bot.simulator.harness import LocalWarroom
from tests.clock import FakeClock

T = TypeVar("T")


def wait_for(check: Callable[[], T], timeout: float = 15.0) -> T:
    """The first truthy answer of `check`, asked every 50 ms; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s")


def take_over(warroom: LocalWarroom, clock: FakeClock) -> None:
    """A crashed owner's lease runs out; another owner takes its job over and finishes it."""
    warroom.settle()
    clock.at += LEASE + timedelta(seconds=1)
    warroom.deps.jobs.wake()
    warroom.settle()
