"""A clock the tests move by hand, patched in for `bot.clock.now` by the `clock` fixture."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


class FakeClock:
    """Every reading is T0 plus what the test last set."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def minutes(self, n: float) -> datetime:
        self.at = T0 + timedelta(minutes=n)
        return self.at

    def hours(self, n: float) -> datetime:
        return self.minutes(n * 60)

    def days(self, n: float) -> datetime:
        return self.minutes(n * 24 * 60)
