"""Closing with the review form, and posting the postmortem draft, as jobs.

Close needs the incident id and the form's answers. It closes and records the draft job in one
transaction (key: `draft:<incident>:<the close job>`), so a retry finds it recorded.

The draft job posts the closing line (if it came from a close), sends the files' bytes, posts
the draft message, records it, and announces it in the broadcast channel. Each message carries
its key in Slack's metadata; a retry looks for it before posting. The files are the part that
metadata cannot find: an upload is invisible until completeUploadExternal shares it, so the ids
getUploadURLExternal returned are recorded, with the draft message, as a share job, which
completes exactly those ids in the draft's thread. A retry of the draft job after that record
leaves the share job as it is (its own fresh upload is never shared; Slack drops it), and a
retry of the share job completes the same ids again, which cannot make a second file.

`/incident postmortem` runs the same draft steps under its command's key. The scheduler's
`record_missing_drafts` re-records a draft only when no draft job of that close is queued or
running, once per ten-minute window across all processes.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.effects import context_for, post_once, retry_since, share_recorded, tell
from bot.flows.outcomes import refresh_card
from bot.incidents.changes import readable_incident
from bot.incidents.service import get_incident
from bot.jobs import faults, queue
from bot.jobs.dispatcher import is_transient
from bot.jobs.queue import Claimed
from bot.postmortem.closing import FixKind, Review, close_with_review, drafts_due, record_draft
from bot.postmortem.draft import build_draft
from bot.postmortem.render import draft_json, draft_markdown, headline
from bot.views.card import broadcast_line, slack_date
from bot.views.closing import draft_message
from storage.models import Incident
from storage.session import run_in_session

CLOSE, DRAFT, SHARE, POSTMORTEM = (
    "incident.close",
    "postmortem.draft",
    "postmortem.share",
    "postmortem.command",
)
DRAFT_GRACE = timedelta(minutes=2)  # a close this recent may still be posting its own draft
RETRY_WINDOW_SECONDS = 600
log = logging.getLogger(__name__)


def register(deps: Deps) -> None:
    """Run the close, draft, share and postmortem-command jobs in this process."""
    deps.jobs.register(CLOSE, lambda job: close(deps, job))
    deps.jobs.register(DRAFT, lambda job: draft(deps, job))
    deps.jobs.register(SHARE, lambda job: share(deps, job))
    deps.jobs.register(POSTMORTEM, lambda job: postmortem(deps, job))


def draft_key(incident_id: int, of: str) -> str:
    """The key of a draft job of the incident: `of` names the close (its job) or the retry."""
    return f"draft:{incident_id}:{of}"


async def close(deps: Deps, job: Claimed) -> None:
    """Close the incident with its review and record its draft job, together."""
    payload = job.payload
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])
    answers = dict(payload["review"])
    review = Review(**{**answers, "fix_kind": FixKind(answers["fix_kind"])})
    days = deps.settings.warroom_archive_after_days

    incident_id = int(payload["incident_id"])
    key = draft_key(incident_id, job.key)

    def close_and_record(session: Session) -> bool:
        if queue.exists(session, key):
            return False  # an earlier attempt closed it and died before finishing
        outcome = close_with_review(session, incident_id, review, ctx)
        incident, line = outcome.incident, outcome.message
        if days and incident.closed_at is not None:
            when = slack_date(incident.closed_at + timedelta(days=days))
            line += f"\nThis war room will be archived {when}; `/incident reopen` keeps it open."
        steps = {"incident_id": incident_id, "line": line, "announce": outcome.message}
        return queue.record(session, DRAFT, key, steps, at=ctx.at, tell=job.tell)

    if await run_in_session(close_and_record):
        faults.step("close.committed")
        deps.jobs.wake()


async def draft(deps: Deps, job: Claimed) -> None:
    """Post the closing line, the draft and the announcement; a draft Slack refuses for good still
    announces the close, and the closer is told."""
    payload = job.payload
    incident_id, announce = int(payload["incident_id"]), payload.get("announce")
    incident = await run_in_session(get_incident, incident_id)
    since = retry_since(job)
    if payload.get("line") and incident.channel_id:
        await post_once(deps, incident.channel_id, str(payload["line"]), key=f"{job.key}:closed", since=since)
        faults.step("close.line_posted")
    try:
        link = await post_draft(deps, job, incident_id)
    except WarroomError as exc:
        if is_transient(exc) or not announce:
            raise
        await refresh_card(deps, incident_id)
        await _announce(deps, job, incident, str(announce))
        raise WarroomError(
            f"{incident.ref} is closed, but its postmortem draft could not be posted ({exc.user_message}). "
            "Warroom tries again in a few minutes, or run `/incident postmortem`."
        ) from exc
    shown = f"<{link}|Postmortem draft for {incident.ref}>"
    message = f"{announce}\n:page_facing_up: {shown}" if announce else f":page_facing_up: {shown} is ready."
    await _announce(deps, job, incident, message)


async def _announce(deps: Deps, job: Claimed, incident: Incident, message: str) -> None:
    broadcast = deps.settings.warroom_broadcast_channel
    if broadcast:
        line = broadcast_line(incident, message)
        await post_once(deps, broadcast, line, key=f"{job.key}:broadcast", since=retry_since(job))


async def post_draft(deps: Deps, job: Claimed, incident_id: int) -> str:
    """Build the draft from the database, post it in the war room once and record it with the
    share job for its files; the link to it."""
    incident = await run_in_session(get_incident, incident_id)
    channel = incident.channel_id
    if channel is None or incident.archived_at is not None:
        raise WarroomError(
            f"{incident.ref}'s war room is archived or was never opened, so the draft cannot be posted "
            f"there; `warroom export {incident.ref}` writes it from the command line."
        )
    now = clock.now()
    built = await run_in_session(build_draft, incident_id, now=now)
    people = sorted(built.people())
    names = dict(zip(people, await asyncio.gather(*map(deps.slack.display_name, people)), strict=True))
    name = f"{built.ref}-postmortem"
    files = {f"{name}.md": draft_markdown(built, names).encode(), f"{name}.json": draft_json(built).encode()}
    uploaded = await deps.slack.upload(files)  # first, so a failed upload posts nothing
    text, blocks = draft_message(built.ref, headline(built), built.questions)
    ts = await post_once(deps, channel, text, key=f"{job.key}:draft", since=retry_since(job), blocks=blocks)
    faults.step("draft.posted")
    link = await deps.slack.permalink(channel, ts)

    def record(session: Session) -> None:
        record_draft(session, incident_id, ts=ts, link=link, at=now)
        files_shown = {"channel": channel, "thread_ts": ts, "files": uploaded}
        queue.record(session, SHARE, f"share:{job.key}", files_shown, at=now)

    await run_in_session(record)
    faults.step("draft.recorded")
    deps.jobs.wake()
    await refresh_card(deps, incident_id)
    return link


async def share(deps: Deps, job: Claimed) -> None:
    """Show the draft's files in its thread: exactly the ids recorded with the draft."""
    await share_recorded(deps, job, "the draft's files")
    faults.step("draft.shared")


async def postmortem(deps: Deps, job: Claimed) -> None:
    """`/incident postmortem`: post the draft again from what is recorded now; tell the asker."""
    payload = job.payload
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])
    incident = await run_in_session(readable_incident, payload["number"], str(payload["channel"]), ctx)
    assert incident.id is not None
    link = await post_draft(deps, job, incident.id)
    await tell(deps, job.tell or {}, f"Posted the postmortem draft: <{link}|open it>.")


def record_missing_drafts(session: Session, now: datetime) -> int:
    """Record a draft job for each close whose draft was not posted and that no draft job is
    posting now; once per ten-minute window across processes. How many."""
    window = int(now.timestamp()) // RETRY_WINDOW_SECONDS
    recorded = 0
    for incident_id in drafts_due(session, now - DRAFT_GRACE):
        if _posting(session, incident_id):
            continue
        steps: dict[str, Any] = {"incident_id": incident_id, "line": None, "announce": None}
        recorded += queue.record(
            session, DRAFT, draft_key(incident_id, f"retry:{window}"), steps, at=clock.now()
        )
    return recorded


def _posting(session: Session, incident_id: int) -> bool:
    """Whether a draft job of the incident (a close's own, or a retry) is queued or running."""
    jobs = queue.JOBS
    statement = select(jobs.c.id).where(
        jobs.c.key.startswith(draft_key(incident_id, ""), autoescape=True),
        jobs.c.state.in_([queue.QUEUED, queue.RUNNING]),
    )
    return session.execute(statement).first() is not None


async def post_missing_drafts(deps: Deps, now: datetime) -> None:
    """Record a draft job for any close whose draft was not posted (Slack refused, or every try
    failed) and that no job is posting now (bot/flows/closing.py)."""
    if await run_in_session(record_missing_drafts, now):
        deps.jobs.wake()
