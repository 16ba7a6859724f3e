"""Posting the postmortem draft into the war room, and closing with it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from datetime import timedelta

from bot import clock
from bot.deps import Deps
from bot.errors import WarroomError
from bot.incidents.changes import Context
from bot.postmortem.closing import Review, close_with_review, drafts_due, record_draft
from bot.postmortem.draft import build_draft, headline
from bot.postmortem.render import draft_json, draft_markdown
from bot.slack.effects import apply_outcome, refresh_card
from bot.slack.views.card import broadcast_line, slack_date
from bot.slack.views.closing import draft_message
from storage.session import run_in_session

log = logging.getLogger(__name__)


async def post_draft(deps: Deps, incident_id: int) -> str:
    """Build the draft from the database, post it in the war room with its files; the link to it."""
    now = clock.now()
    draft = await run_in_session(build_draft, incident_id, now=now)
    channel = draft.channel_id
    if channel is None:
        raise WarroomError(f"{draft.ref} has no war room to post in; use `warroom export {draft.ref}`.")
    text, blocks = draft_message(draft.ref, headline(draft), draft.questions)
    ts = await deps.slack.post(channel, text, blocks)
    people = sorted(draft.people())
    names = dict(zip(people, await asyncio.gather(*map(deps.slack.display_name, people)), strict=True))
    name = f"{draft.ref}-postmortem"
    files = {f"{name}.md": draft_markdown(draft, names).encode(), f"{name}.json": draft_json(draft).encode()}
    await deps.slack.upload(channel, files, thread_ts=ts)
    link = await deps.slack.permalink(channel, ts)
    await run_in_session(record_draft, incident_id, ts=ts, link=link, at=now)
    await refresh_card(deps, incident_id)
    return link


async def close_and_post(deps: Deps, incident_id: int, review: Review, ctx: Context) -> None:
    """Close the incident, post its draft in the war room, then announce both with the link."""
    outcome = await run_in_session(close_with_review, incident_id, review, ctx)
    incident = outcome.incident
    days = deps.settings.warroom_archive_after_days
    line = outcome.message
    if days and incident.closed_at is not None:
        when = slack_date(incident.closed_at + timedelta(days=days))
        line += f"\nThis war room will be archived {when}; `/incident reopen` keeps it open."
    await apply_outcome(deps, dataclasses.replace(outcome, message=line, broadcast=False, refresh=False))
    try:
        link = await post_draft(deps, incident_id)
    except Exception:
        await refresh_card(deps, incident_id)
        raise
    broadcast = deps.settings.warroom_broadcast_channel
    if broadcast:
        message = f"{outcome.message}\n:page_facing_up: <{link}|Postmortem draft for {incident.ref}>"
        await deps.slack.post(broadcast, broadcast_line(incident, message))


async def post_missing_drafts(deps: Deps) -> None:
    """After a restart: post the draft of any close whose draft was not posted."""
    for incident_id in await run_in_session(drafts_due):
        try:
            await post_draft(deps, incident_id)
        except Exception:
            log.exception("could not post the postmortem draft of incident %s", incident_id)
