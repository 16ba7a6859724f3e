"""Sending due status-update reminders and close nudges; the scheduler calls this every half minute."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.deps import Deps
from bot.incidents.reminders import claim_close_nudges, claim_due_reminders
from bot.slack.views.reminder import close_nudge_message, reminder_message
from storage.session import run_in_session

log = logging.getLogger(__name__)


async def send_due_reminders(deps: Deps, now: datetime) -> int:
    """Claim the reminders due at `now` and post each in its war room; return how many."""
    intervals = deps.settings.warroom_reminder_minutes
    claimed = await run_in_session(claim_due_reminders, now, intervals)
    nudged = await run_in_session(claim_close_nudges, now)
    reminders = [(i, reminder_message(i, intervals[i.severity])) for i in claimed]
    reminders += [(i, close_nudge_message(i)) for i in nudged]
    for incident, (text, blocks) in reminders:
        if incident.channel_id is None:
            continue
        try:
            await deps.slack.post(incident.channel_id, text, blocks)
        except Exception:
            log.exception("could not remind %s", incident.ref)
    return len(reminders)
