"""Sending due status-update reminders; the scheduler calls this every half minute."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.deps import Deps
from bot.incidents.reminders import claim_due_reminders
from bot.slack.views.reminder import reminder_message
from storage.session import run_in_session

log = logging.getLogger(__name__)


async def send_due_reminders(deps: Deps, now: datetime) -> int:
    """Claim the reminders due at `now` and post each in its war room; return how many."""
    intervals = deps.settings.warroom_reminder_minutes
    claimed = await run_in_session(claim_due_reminders, now, intervals)
    for incident in claimed:
        if incident.channel_id is None:
            continue
        text, blocks = reminder_message(incident, intervals[incident.severity])
        try:
            await deps.slack.post(incident.channel_id, text, blocks)
        except Exception:
            log.exception("could not remind %s", incident.ref)
    return len(claimed)
