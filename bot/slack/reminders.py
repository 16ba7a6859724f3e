"""Due status-update reminders and close nudges; the scheduler calls this every half minute."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.flows.reminders import record_due_reminders
from storage.session import run_in_session


async def send_due_reminders(deps: Deps, now: datetime) -> int:
    """Claim the reminders due at `now` and record each one's post (bot/flows/reminders.py); how many."""
    claimed = await run_in_session(record_due_reminders, now, deps.settings.warroom_reminder_minutes)
    if claimed:
        deps.jobs.wake()
    return claimed
