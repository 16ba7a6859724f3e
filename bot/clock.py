"""The one clock: timezone-aware UTC, and the weeks reports count in (Monday 00:00 UTC)."""

from datetime import UTC, datetime, timedelta

WEEK = timedelta(weeks=1)


def now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)


def week_of(at: datetime) -> datetime:
    """The start of the week holding `at`: its Monday at 00:00 UTC."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())


def weeks(since: datetime, until: datetime) -> list[datetime]:
    """Every week (its start) holding some instant of [since, until), oldest first; empty ones too."""
    found, start = [], week_of(since)
    while start < until and since < until:  # an empty window holds no week
        found.append(start)
        start += WEEK
    return found
