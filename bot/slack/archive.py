"""Archiving closed war rooms: the notice, then the archive; the scheduler calls this every minute."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.deps import Deps
from bot.flows.archive import record_due
from storage.session import run_in_session


async def archive_closed_rooms(deps: Deps, now: datetime) -> int:
    """Claim the notices and archives due at `now` and record their jobs (bot/flows/archive.py);
    how many rooms are to be archived."""
    days = deps.settings.warroom_archive_after_days
    if not days:
        return 0
    claimed = await run_in_session(record_due, now, timedelta(days=days))
    deps.jobs.wake()
    return claimed
