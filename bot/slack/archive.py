"""Archiving closed war rooms: the notice, then the archive; the scheduler calls this every minute."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.adapters.slack import SlackCallFailed
from bot.deps import Deps
from bot.incidents.archive import claim_archive_notices, claim_archives, record_archive
from bot.slack.views.card import slack_date
from storage.session import run_in_session

log = logging.getLogger(__name__)


def archive_notice(archive_at: datetime) -> str:
    """Told in a closed war room a while before it is archived."""
    return f"This war room will be archived {slack_date(archive_at)}; `/incident reopen` keeps it."


async def archive_closed_rooms(deps: Deps, now: datetime) -> int:
    """Give the notices due at `now`, then archive the rooms due; return how many were archived.

    Each step is claimed before Slack is called, so a failure is recorded, never repeated.
    """
    days = deps.settings.warroom_archive_after_days
    if not days:
        return 0
    delay = timedelta(days=days)
    for incident, archive_at in await run_in_session(claim_archive_notices, now, delay):
        assert incident.channel_id is not None
        try:
            await deps.slack.post(incident.channel_id, archive_notice(archive_at))
        except SlackCallFailed as exc:
            log.warning("could not tell %s its room will be archived: %s", incident.ref, exc.error)
    archived = 0
    for incident in await run_in_session(claim_archives, now, delay):
        assert incident.channel_id is not None and incident.id is not None
        error = None
        try:
            await deps.slack.archive(incident.channel_id)
            archived += 1
        except SlackCallFailed as exc:
            error = exc.error
        except Exception:
            log.exception("archiving the war room of %s failed", incident.ref)
            error = "unexpected error"
        if error is not None:
            log.warning("could not archive the war room of %s: %s; not retried", incident.ref, error)
        await run_in_session(record_archive, incident.id, now, error)
    return archived
