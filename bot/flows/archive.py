"""Archiving closed war rooms: the notice, then the archive, each claimed and recorded as a job
in one transaction, so each happens once however many processes look.

The notice is a `slack.post` job (key: the incident and its close). The archive job needs the
incident id and its channel; conversations.archive is safe to repeat (`already_archived` is
success), so a retry simply archives again, then notes the result on the timeline once (its
own key). Slack refusing for good (a channel gone) is noted and not tried again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlmodel import Session

from bot import clock
from bot.adapters.slack import SlackCallFailed
from bot.deps import Deps
from bot.flows.messages import record_post
from bot.incidents.archive import claim_archive_notices, claim_archives, record_archive
from bot.incidents.service import claim_key
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.views.card import slack_date
from storage.session import run_in_session

ARCHIVE = "room.archive"


def register(deps: Deps) -> None:
    """Run archive jobs in this process."""
    deps.jobs.register(ARCHIVE, lambda job: archive(deps, job))


def archive_notice(archive_at: datetime) -> str:
    """Told in a closed war room a while before it is archived."""
    return f"This war room will be archived {slack_date(archive_at)}; `/incident reopen` keeps it."


def record_due(session: Session, now: datetime, delay: timedelta) -> int:
    """Claim the notices and archives due at `now` and record their jobs; how many rooms to archive."""
    for incident, archive_at in claim_archive_notices(session, now, delay):
        assert incident.channel_id is not None
        key = f"archive-notice:{incident.id}:{incident.closed_at}"
        record_post(session, key, incident.channel_id, archive_notice(archive_at), None, at=clock.now())
    claimed = claim_archives(session, now, delay)
    for incident in claimed:
        payload = {"incident_id": incident.id, "channel": incident.channel_id}
        queue.record(session, ARCHIVE, f"archive:{incident.id}:{incident.closed_at}", payload, at=clock.now())
    return len(claimed)


async def archive(deps: Deps, job: Claimed) -> None:
    """Archive the room (again, on a retry: harmless), then note how it went, once."""
    incident_id, error = int(job.payload["incident_id"]), None
    try:
        await deps.slack.archive(str(job.payload["channel"]))
    except SlackCallFailed as exc:
        if exc.transient:
            raise  # Slack slow or the token refused: try again later
        error = exc.error
    faults.step("archive.archived")

    def note(session: Session) -> None:
        at = clock.now()
        if claim_key(session, f"noted:{job.key}", "archive", incident_id, at):
            record_archive(session, incident_id, at, error)

    await run_in_session(note)


async def archive_closed_rooms(deps: Deps, now: datetime) -> int:
    """Claim the notices and archives due at `now` and record their jobs (bot/flows/archive.py);
    how many rooms are to be archived."""
    days = deps.settings.warroom_archive_after_days
    if not days:
        return 0
    claimed = await run_in_session(record_due, now, timedelta(days=days))
    deps.jobs.wake()
    return claimed
