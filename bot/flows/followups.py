"""Follow-ups after the ack: adding one, marking one done, listing them, reminding the owner.

Add needs the draft (text, owner, due date) and the incident (id, or number and war room); it
records the follow-up once under the job's key (the request), then posts its war-room line
with that follow-up's key in the metadata, so a retry finds the line instead of posting twice.

Done needs the follow-up id and the clicked message; it marks it done and records the job that
shows it (the line rewritten, or a whisper) in one transaction, keyed by the click.

Due reminders: each due follow-up is claimed (compare-and-set on `reminded_at`) and its
reminder recorded as a post job in one transaction, keyed by the follow-up: sent once.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.adapters.slack import SlackCallFailed
from bot.deps import Deps
from bot.flows.changes import on_incident
from bot.flows.effects import context_for, post_once, require_person, retry_since, tell
from bot.flows.messages import record_post
from bot.flows.tickets import ask_for_ticket
from bot.incidents.followups import (
    FollowUpDraft,
    add_followup,
    any_due_followups,
    claim_due_followups,
    followup_id,
    list_followups,
    mark_done,
)
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.tickets.service import incident_service
from bot.views.followups import DONE as DONE_BUTTON
from bot.views.followups import done_line, followup_line, followup_list, followup_reminder
from bot.views.followups import shown as shown_text
from storage.models import FollowUp, Incident
from storage.session import run_in_session

ADD, DONE, SHOWN, LIST = "followup.add", "followup.done", "followup.shown", "followup.list"
log = logging.getLogger(__name__)
# A closed incident's room may be archived or gone; the follow-up is recorded all the same.
UNREACHABLE = ("is_archived", "channel_not_found", "not_in_channel")


def register(deps: Deps) -> None:
    """Run the follow-up jobs in this process."""
    deps.jobs.register(ADD, lambda job: add(deps, job))
    deps.jobs.register(DONE, lambda job: done(deps, job))
    deps.jobs.register(SHOWN, lambda job: shown(deps, job))
    deps.jobs.register(LIST, lambda job: listed(deps, job))


def draft_payload(draft: FollowUpDraft) -> dict[str, Any]:
    """A draft as a job's payload carries it (read once, on the request path)."""
    due = draft.due_on.isoformat() if draft.due_on else None
    return {"text": draft.text, "owner": draft.owner_id, "due_on": due}


async def add(deps: Deps, job: Claimed) -> None:
    """Record the follow-up once, then post its line in the war room once."""
    payload = job.payload
    due = date.fromisoformat(payload["due_on"]) if payload.get("due_on") else None
    draft = FollowUpDraft(str(payload["text"]), payload.get("owner"), due)
    if draft.owner_id:
        await require_person(deps, draft.owner_id, "own follow-ups")
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])

    def record(session: Session) -> tuple[FollowUp, Incident, bool]:
        followup, incident, _ = on_incident(session, payload, add_followup, draft, ctx, job.key)
        asked = False
        if payload.get("ticket") and deps.trackers and incident.drill_of is None:
            asked = ask_for_ticket(session, deps, followup.id or 0, ctx, job.tell)[1]  # the form's box
        return followup, incident, asked

    followup, incident, asked = await run_in_session(record)
    if asked:
        deps.jobs.wake()  # the filing job recorded with it
    faults.step("followup.added")
    since = retry_since(job)
    problem = await post_followup(deps, followup, incident, key=f"followup:{followup.id}", since=since)
    if problem:
        await tell(deps, job.tell or {}, problem)


async def done(deps: Deps, job: Claimed) -> None:
    """Mark the follow-up done and record how to show it, together."""
    payload = job.payload
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])

    def mark(session: Session) -> bool:
        key = f"{SHOWN}:{job.key}"
        if queue.exists(session, key):
            return False  # an earlier attempt marked it and died before finishing
        followup, _ = mark_done(session, followup_id(payload["followup_id"]), ctx)
        shown = {"followup_id": followup.id, "channel": payload["channel"], "ts": payload["ts"]}
        return queue.record(session, SHOWN, key, shown, at=ctx.at, tell=job.tell)

    if await run_in_session(mark):
        faults.step("followup.done")
        deps.jobs.wake()


async def shown(deps: Deps, job: Claimed) -> None:
    """Rewrite the clicked line as done, or whisper it to the clicker."""
    payload = job.payload
    followup = await run_in_session(lambda session: session.get(FollowUp, int(payload["followup_id"])))
    assert followup is not None and job.tell is not None
    channel, user, ts = str(payload["channel"]), str(job.tell["user"]), payload.get("ts")
    text, blocks = done_line(followup)
    if ts:
        try:
            await deps.slack.update(channel, str(ts), text, blocks)
            return
        except SlackCallFailed as exc:
            log.warning("could not show follow-up %s as done: %s", followup.id, exc.error)
    await deps.slack.whisper(channel, user, f"Marked done: {shown_text(followup.text, 500)}")


def shows(message: dict[str, Any], value: str) -> bool:
    """Whether a clicked message is the line of follow-up `value` (so replacing it loses nothing)."""
    blocks = [b for b in message.get("blocks") or [] if b.get("block_id") != "ticket"]
    accessory = (blocks[0].get("accessory") or {}) if len(blocks) == 1 else {}
    return bool(accessory.get("action_id") == DONE_BUTTON and accessory.get("value") == value)


async def post_followup(
    deps: Deps, followup: FollowUp, incident: Incident, *, key: str, since: float | None
) -> str | None:
    """Post the new follow-up in the war room once; None when posted, else what to tell the asker."""
    reason = "it has no channel"
    if incident.channel_id is not None:
        service = await run_in_session(incident_service, followup.incident_id) if deps.trackers else None
        tracker = deps.trackers.choose(service)
        text, blocks = followup_line(followup, incident, tracker=tracker.name if tracker else None)
        try:
            await post_once(deps, incident.channel_id, text, key=key, since=since, blocks=blocks)
            return None
        except SlackCallFailed as exc:
            if exc.error not in UNREACHABLE:
                raise
            reason = exc.error.replace("_", " ")
    return (
        f"Recorded the follow-up on {incident.ref}, but its war room cannot show it ({reason}); "
        f"`/incident {incident.ref} followups` lists it."
    )


async def listed(deps: Deps, job: Claimed) -> None:
    """Send the incident's follow-ups, only to the asker."""
    payload = job.payload
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])
    incident, followups = await run_in_session(list_followups, payload["number"], payload["channel"], ctx)
    text, blocks = followup_list(incident, followups, clock.now().date())
    await tell(deps, job.tell or {}, text, blocks)


def record_due_reminders(session: Session, now: datetime, bot_user: str) -> int:
    """Claim the follow-ups due at `now` and record a reminder to each owner (or the IC); how many."""
    claimed = claim_due_followups(session, now)
    for followup, incident in claimed:
        to = followup.owner_id or incident.commander_id
        text, blocks = followup_reminder(followup, incident, owned=followup.owner_id is not None)
        # an incident opened from an alert has Warroom as its IC, which cannot message itself
        where = incident.channel_id if to == bot_user else to
        if where is not None:
            key = f"followup-reminder:{followup.id}"
            record_post(session, key, where, text, blocks, at=clock.now(), incident_id=incident.id)
    return len(claimed)


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
