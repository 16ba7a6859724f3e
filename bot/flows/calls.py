"""A Zoom meeting per incident, once its war room is ready (recorded with the room's readiness,
so the room opens as fast as without one).

The job makes the meeting, records its join link, then shows it: bookmarked in the war room,
on the card, and in a public incident's broadcast (never a private one's, whose meeting topic
does not carry its title either). Zoom has no idempotency key: a retried job first looks for a
scheduled meeting with the incident's topic and adopts it; the bookmark is added only if the
room does not have it."""

from __future__ import annotations

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows.outcomes import refresh_card
from bot.incidents.service import get_incident, record_call
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.views.card import announcement
from storage.models import Incident
from storage.session import run_in_session

CALL = "call.make"


def register(deps: Deps) -> None:
    """Run the call jobs in this process."""
    deps.jobs.register(CALL, lambda job: make_call(deps, job))


def record_call_job(session: Session, incident: Incident, tell: dict[str, object] | None) -> bool:
    """Record the job that makes the incident's meeting (in the caller's transaction)."""
    payload = {"incident_id": incident.id}
    return queue.record(session, CALL, f"{CALL}:{incident.id}", payload, at=clock.now(), tell=tell)


async def make_call(deps: Deps, job: Claimed) -> None:
    """Make the meeting once, record it, show it."""
    assert deps.zoom is not None
    incident_id = int(job.payload["incident_id"])
    incident = await run_in_session(get_incident, incident_id)
    if incident.call_url is None:
        topic = f"{incident.ref} war room" if incident.private else f"{incident.ref}: {incident.title}"
        found = await deps.zoom.find(topic) if job.retried else None
        url = found or await deps.zoom.create(topic, f"The war room call of {incident.ref}, made by Warroom.")
        faults.step("call.made")
        incident = await run_in_session(record_call, incident_id, url, at=clock.now())
    assert incident.call_url is not None
    await _show(deps, incident, incident.call_url)


async def _show(deps: Deps, incident: Incident, url: str) -> None:
    if incident.channel_id is not None and url not in await deps.slack.bookmarked(incident.channel_id):
        await deps.slack.bookmark(incident.channel_id, "Incident call", url)
    await refresh_card(deps, incident.id)
    broadcast = deps.settings.warroom_broadcast_channel
    if broadcast and incident.broadcast_ts and not incident.private:
        text, blocks = announcement(incident, url)
        await deps.slack.update(broadcast, incident.broadcast_ts, text, blocks)
