"""Follow-ups as tracker issues (GitHub, Jira), after the ack.

Ask: a click on "File a … issue" records the ticket, once per follow-up, in the tracker its
incident's service picks, and its filing job in one transaction.

File: the job files the issue, records it, then says so in the war room once (the post
carries the ticket's key). No tracker has an idempotency key, so any attempt that may follow
an earlier one (a retry, a crash, a timeout) first looks for the issue by the marker it
carries, and adopts it: one issue however the filing was cut short. A tracker that is down
keeps the follow-up and tries again later, for as long as it takes (each try a new job, spaced
out to half an hour); the asker is told once. A refusal (bad token, unknown project, an
assignee the tracker does not know) is told to the asker and recorded.

Tracker changes: the webhooks (bot/http/tickets.py) mark the follow-up done when its issue is
closed (done) and open again when reopened, and record the job that says so in the room.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.adapters.slack import SlackCallFailed
from bot.adapters.trackers import Issue, NewIssue, Tracker, TrackerFailed
from bot.deps import Deps
from bot.flows.effects import context_for, post_once, retry_since, tell
from bot.incidents.changes import Context
from bot.incidents.followups import followup_id
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.tickets.service import (
    incident_service,
    issue_for,
    note_refused,
    note_tracker_down,
    record_issue,
    request_ticket,
    ticket_name,
)
from bot.views.followups import ticket_line, ticket_state_line
from storage.models import FollowUp, Incident, Ticket
from storage.session import run_in_session

ASK, FILE, STATE = "ticket.ask", "ticket.file", "ticket.state"
DOWN_RETRY_CAP = timedelta(minutes=30)
UNREACHABLE = ("is_archived", "channel_not_found", "not_in_channel")
log = logging.getLogger(__name__)


def register(deps: Deps) -> None:
    """Run the ticket jobs in this process."""
    deps.jobs.register(ASK, lambda job: ask(deps, job))
    deps.jobs.register(FILE, lambda job: file(deps, job))
    deps.jobs.register(STATE, lambda job: state(deps, job))


def file_job(session: Session, ticket: Ticket, tell_where: dict[str, Any] | None, attempt: int = 0) -> bool:
    """Record the job that files `ticket` (its `attempt`-th try after GitHub was down)."""
    key = f"{FILE}:{ticket.id}" + (f":{attempt}" if attempt else "")
    wait = min(DOWN_RETRY_CAP, timedelta(minutes=2**attempt)) if attempt else timedelta(0)
    now = clock.now()
    return queue.record(
        session, FILE, key, {"ticket_id": ticket.id}, at=now, run_after=now + wait, tell=tell_where
    )


def ask_for_ticket(
    session: Session, deps: Deps, number: int, ctx: Context, tell_where: dict[str, Any] | None
) -> tuple[Ticket, bool]:
    """In the caller's transaction: the follow-up's ticket in the tracker its incident's service
    picks, and its filing job when this asks for it first; whether it did."""
    followup = session.get(FollowUp, number)
    tracker = deps.trackers.choose(incident_service(session, followup.incident_id) if followup else None)
    assert tracker is not None
    ticket, _, _, asked = request_ticket(session, number, ctx, tracker=tracker.kind, project=tracker.project)
    if asked:
        file_job(session, ticket, tell_where)
    return ticket, asked


async def ask(deps: Deps, job: Claimed) -> None:
    """Record the follow-up's ticket and its filing job together (a second ask finds the first)."""
    payload = job.payload
    if not deps.trackers:
        await tell(
            deps, job.tell or {}, "No issue tracker is set up: see *Follow-ups as tickets* in the README."
        )
        return
    ctx = await context_for(deps, payload["user"], payload["team"], payload["channel"])
    number = followup_id(payload["followup_id"])

    def record(session: Session) -> tuple[Ticket, bool]:
        return ask_for_ticket(session, deps, number, ctx, job.tell)

    ticket, asked = await run_in_session(record)
    if asked:
        deps.jobs.wake()
    elif ticket.url:
        await tell(deps, job.tell or {}, f"This follow-up is already {ticket_name(ticket)}: {ticket.url}")
    else:
        await tell(deps, job.tell or {}, "The issue for this follow-up is already on its way.")


async def file(deps: Deps, job: Claimed) -> None:
    """File the ticket's issue once (adopting one an earlier try filed), then say so in the room."""
    ticket_id = int(job.payload["ticket_id"])
    ticket, followup, incident = await run_in_session(_load, ticket_id)
    if ticket.status == "refused":
        return
    if ticket.ref is None:
        issue = await _issue(deps, job, ticket, followup, incident)
        if issue is None:
            return
        faults.step("ticket.filed")
        ticket = await run_in_session(record_issue, ticket_id, issue, at=clock.now())
        faults.step("ticket.recorded")
    if incident.channel_id:
        text, blocks = ticket_line(followup, ticket)
        try:
            await post_once(
                deps,
                incident.channel_id,
                text,
                key=f"ticket:{ticket_id}",
                since=_since(job, ticket),
                blocks=blocks,
            )
        except SlackCallFailed as exc:
            if exc.error not in UNREACHABLE:
                raise
            await tell(deps, job.tell or {}, text)


async def _issue(
    deps: Deps, job: Claimed, ticket: Ticket, followup: FollowUp, incident: Incident
) -> Issue | None:
    assert ticket.id is not None
    tracker = deps.trackers.kind(ticket.tracker)
    if tracker is None:
        await tell(
            deps, job.tell or {}, f"{ticket.tracker} is no longer set up; the follow-up stays in Warroom."
        )
        return None
    wanted = await _new_issue(deps, tracker, ticket, followup, incident)
    try:
        # an earlier try may have filed it and died (or timed out) before recording: look first
        found = await tracker.find(wanted) if job.retried or ticket.attempts else None
        if found is not None:
            log.info("ticket %s: adopting %s filed by an earlier try", ticket.id, found.url)
            return found
        return await tracker.create(wanted)
    except TrackerFailed as exc:
        if not exc.transient:
            await run_in_session(note_refused, ticket.id, exc.user_message)
            text = f"{tracker.name} refused the issue for this follow-up: {exc.user_message}"
            await tell(deps, job.tell or {}, text)
            return None
        tries = await run_in_session(_try_later, ticket, job.tell, exc.user_message)
        deps.jobs.wake()
        if tries == 1:
            await tell(
                deps,
                job.tell or {},
                f"{tracker.name} is not answering ({exc.user_message}). The follow-up is kept; its issue "
                f"is filed as soon as {tracker.name} answers.",
            )
        return None


async def _new_issue(
    deps: Deps, tracker: Tracker, ticket: Ticket, followup: FollowUp, incident: Incident
) -> NewIssue:
    settings = deps.settings
    owner = followup.owner_id
    email = None
    if owner and tracker.kind == "jira":
        try:
            email = ((await deps.slack.user(owner)).get("profile") or {}).get("email")
        except SlackCallFailed as exc:
            log.info("the owner of follow-up %s has no e-mail Warroom can see (%s)", followup.id, exc.error)
    labels = settings.warroom_github_labels if tracker.kind == "github" else ["incident-follow-up"]
    return issue_for(
        followup,
        incident,
        ticket,
        link=_link(deps, incident),
        labels=labels,
        owner_login=settings.warroom_github_users.get(owner or ""),
        owner_email=email,
    )


def _try_later(session: Session, ticket: Ticket, tell_where: dict[str, Any] | None, error: str) -> int:
    tries = note_tracker_down(session, ticket.id or 0, error)
    file_job(session, ticket, tell_where, attempt=tries)
    return tries


async def state(deps: Deps, job: Claimed) -> None:
    """Say in the war room that the tracker closed (or reopened) the follow-up's issue."""
    ticket, followup, incident = await run_in_session(_load, int(job.payload["ticket_id"]))
    if not incident.channel_id:
        return
    text, blocks = ticket_state_line(followup, ticket, login=str(job.payload["login"]))
    try:
        await post_once(deps, incident.channel_id, text, key=job.key, since=retry_since(job), blocks=blocks)
    except SlackCallFailed as exc:
        if exc.error not in UNREACHABLE:
            raise
        log.info("ticket %s changed; its war room cannot show it (%s)", ticket.id, exc.error)


def _load(session: Session, ticket_id: int) -> tuple[Ticket, FollowUp, Incident]:
    ticket = session.get(Ticket, ticket_id)
    assert ticket is not None
    followup = session.get(FollowUp, ticket.follow_up_id)
    assert followup is not None
    incident = session.get(Incident, followup.incident_id)
    assert incident is not None
    return ticket, followup, incident


def _since(job: Claimed, ticket: Ticket) -> float | None:
    """Where a post that may have been made before is looked for: any try but a first."""
    if not job.retried and not ticket.attempts:
        return None
    return ticket.requested_at.timestamp() - 60


def _link(deps: Deps, incident: Incident) -> str | None:
    base = deps.settings.warroom_base_url
    return f"{base}/incidents/{incident.ref}" if base else None
