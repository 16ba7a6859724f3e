"""Due follow-up reminders; the scheduler calls this every minute."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.flows.followups import record_due_reminders
from bot.incidents.followups import any_due_followups
from storage.session import run_in_session


async def send_due_followups(deps: Deps, now: datetime) -> int:
    """Claim the follow-ups due at `now` and record each owner's (or the IC's) reminder, posted
    once by its job (bot/flows/followups.py); how many."""
    if not await run_in_session(any_due_followups, now):
        return 0  # nothing to claim, so no need to know who Warroom is in Slack
    bot = await deps.slack.bot_user_id()
    claimed = await run_in_session(record_due_reminders, now, bot)
    if claimed:
        deps.jobs.wake()
    return claimed
