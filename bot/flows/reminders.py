"""Status-update reminders, close nudges and the reminder's Snooze button, as jobs.

A due reminder is claimed (compare-and-set on `last_reminded_at`) and its post recorded as a
`slack.post` job in one transaction, so each claim is posted exactly once: a crash before the
commit leaves it unclaimed, one after leaves the post job to finish. Keys: the incident and the
moment it was claimed (a reminder), or the resolution (a close nudge: once per resolution).

Snooze needs the incident id, the reminder's ts and who clicked; it snoozes and records the
reminder's rewrite together (key: the click), so a retry after the snooze rewrites it anyway.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows.effects import context_for
from bot.flows.messages import record_post, record_update
from bot.incidents.reminders import claim_close_nudges, claim_due_reminders, snooze_reminder
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.views.reminder import close_nudge_message, reminder_message
from storage.session import run_in_session

SNOOZE = "reminder.snooze"


def register(deps: Deps) -> None:
    """Run snooze jobs in this process."""
    deps.jobs.register(SNOOZE, lambda job: snooze(deps, job))


def record_due_reminders(session: Session, now: datetime, intervals: dict[int, int]) -> int:
    """Claim the reminders and close nudges due at `now` and record their posts; how many."""
    claimed = claim_due_reminders(session, now, intervals)
    nudged = claim_close_nudges(session, now)
    posts = [
        (f"reminder:{i.id}:{now.isoformat()}", i, reminder_message(i, intervals[i.severity])) for i in claimed
    ]
    posts += [(f"close-nudge:{i.id}:{i.resolved_at}", i, close_nudge_message(i)) for i in nudged]
    for key, incident, (text, blocks) in posts:
        if incident.channel_id is not None:
            record_post(session, key, incident.channel_id, text, blocks, at=clock.now())
    return len(posts)


async def snooze(deps: Deps, job: Claimed) -> None:
    """Put the next reminder off and rewrite the reminder to say who did, once."""
    payload = job.payload
    user, channel = str(payload["user"]), str(payload["channel"])
    ctx = await context_for(deps, user, payload["team"], channel)

    def snooze_and_record(session: Session) -> bool:
        key = f"update:{job.key}"
        if queue.exists(session, key):
            return False  # an earlier attempt snoozed it and died before finishing
        incident = snooze_reminder(session, int(payload["incident_id"]), ctx)
        until = f"{incident.reminder_snoozed_until:%H:%M} UTC"
        text = f":zzz: <@{user}> snoozed the update reminder for {incident.ref} until {until}."
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]
        return record_update(session, key, channel, str(payload["ts"]), text, blocks, at=ctx.at)

    if await run_in_session(snooze_and_record):
        faults.step("reminder.snoozed")
        deps.jobs.wake()


async def send_due_reminders(deps: Deps, now: datetime) -> int:
    """Claim the reminders due at `now` and record each one's post (bot/flows/reminders.py); how many."""
    claimed = await run_in_session(record_due_reminders, now, deps.settings.warroom_reminder_minutes)
    if claimed:
        deps.jobs.wake()
    return claimed
