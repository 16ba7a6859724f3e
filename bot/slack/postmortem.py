"""Posting the postmortem draft into the war room, and closing with it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import datetime, timedelta

from bot import clock
from bot.deps import Deps
from bot.errors import WarroomError
from bot.incidents.changes import Context
from bot.incidents.service import get_incident
from bot.postmortem.closing import Review, claim_draft_retry, close_with_review, drafts_due, record_draft
from bot.postmortem.draft import build_draft
from bot.postmortem.render import draft_json, draft_markdown, headline
from bot.slack.effects import apply_outcome, refresh_card
from bot.slack.views.card import broadcast_line, slack_date
from bot.slack.views.closing import draft_message
from storage.session import run_in_session

log = logging.getLogger(__name__)
DRAFT_GRACE = timedelta(minutes=2)  # a close this recent may still be posting its own draft


async def post_draft(deps: Deps, incident_id: int) -> str:
    """Build the draft from the database and post it in the war room with its files threaded
    under it; the link to it. The files are sent first, so a failed upload posts nothing."""
    incident = await run_in_session(get_incident, incident_id)
    if incident.channel_id is None or incident.archived_at is not None:
        raise WarroomError(
            f"{incident.ref}'s war room is archived or was never opened, so the draft cannot be posted "
            f"there; `warroom export {incident.ref}` writes it from the command line."
        )
    now = clock.now()
    draft = await run_in_session(build_draft, incident_id, now=now)
    people = sorted(draft.people())
    names = dict(zip(people, await asyncio.gather(*map(deps.slack.display_name, people)), strict=True))
    name = f"{draft.ref}-postmortem"
    files = {f"{name}.md": draft_markdown(draft, names).encode(), f"{name}.json": draft_json(draft).encode()}
    uploaded = await deps.slack.upload(files)
    text, blocks = draft_message(draft.ref, headline(draft), draft.questions)
    ts = await deps.slack.post(incident.channel_id, text, blocks)
    await deps.slack.share(uploaded, incident.channel_id, thread_ts=ts)
    link = await deps.slack.permalink(incident.channel_id, ts)
    await run_in_session(record_draft, incident_id, ts=ts, link=link, at=now)
    await refresh_card(deps, incident_id)
    return link


async def close_and_post(deps: Deps, incident_id: int, review: Review, ctx: Context) -> None:
    """Close the incident, post its draft in the war room, then announce both with the link.

    Once closed, the close is announced whatever happens to the draft; a draft that could not
    be posted is said so, and is tried again by the scheduler.
    """
    outcome = await run_in_session(close_with_review, incident_id, review, ctx)
    incident = outcome.incident
    days = deps.settings.warroom_archive_after_days
    line = outcome.message
    if days and incident.closed_at is not None:
        when = slack_date(incident.closed_at + timedelta(days=days))
        line += f"\nThis war room will be archived {when}; `/incident reopen` keeps it open."
    await apply_outcome(deps, dataclasses.replace(outcome, message=line, broadcast=False, refresh=False))
    link, failure = None, None
    try:
        link = await post_draft(deps, incident_id)
    except Exception as exc:
        log.exception("could not post the postmortem draft of %s", incident.ref)
        failure = exc.user_message if isinstance(exc, WarroomError) else "an unexpected error"
        await refresh_card(deps, incident_id)
    broadcast = deps.settings.warroom_broadcast_channel
    if broadcast:
        message = outcome.message
        if link:
            message += f"\n:page_facing_up: <{link}|Postmortem draft for {incident.ref}>"
        await deps.slack.post(broadcast, broadcast_line(incident, message))
    if failure:
        raise WarroomError(
            f"{incident.ref} is closed, but its postmortem draft could not be posted ({failure}). "
            "Warroom tries again in a few minutes, or run `/incident postmortem`."
        )


async def post_missing_drafts(deps: Deps, now: datetime) -> None:
    """Post the draft of any close whose draft was not posted (Slack failed, or the process
    stopped); the scheduler calls this every minute."""
    broadcast = deps.settings.warroom_broadcast_channel
    for incident_id in await run_in_session(drafts_due, now - DRAFT_GRACE):
        if not await run_in_session(claim_draft_retry, incident_id, now):
            continue  # another process is on it, or tried within the last ten minutes
        try:
            link = await post_draft(deps, incident_id)
            if broadcast:
                incident = await run_in_session(get_incident, incident_id)
                ready = f":page_facing_up: <{link}|Postmortem draft for {incident.ref}> is ready."
                await deps.slack.post(broadcast, broadcast_line(incident, ready))
        except Exception:
            log.exception("could not post the postmortem draft of incident %s", incident_id)
