"""Sending what a use case decided: invites, the card and topic, the room line, the broadcast."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from bot.alerts.links import opened_by
from bot.deps import Deps
from bot.flows.effects import post_once
from bot.flows.linked import RESOLVE, resolve_key
from bot.flows.runbooks import post_new_runbooks
from bot.incidents.changes import Outcome, current_roles
from bot.incidents.rules import call_link
from bot.incidents.service import get_incident
from bot.postmortem.closing import draft_link
from bot.views.card import broadcast_line, incident_card, topic
from storage.session import run_in_session


async def apply_outcome(
    deps: Deps, outcome: Outcome, *, key: str | None = None, reconcile_since: float | None = None
) -> None:
    """Invite, then refresh the card and topic, post the line and broadcast, side by side.

    With a `key` each post carries it in its metadata; with `reconcile_since` (a retry) a post
    found under its key since then is not made again.
    """
    incident = outcome.incident
    channel = incident.channel_id
    if channel is None:
        return  # the room is still opening; it will show the current state
    if outcome.invite:
        await deps.slack.invite(channel, list(outcome.invite))

    def post(where: str, text: str, part: str) -> Awaitable[str]:
        return post_once(deps, where, text, key=key and f"{key}:{part}", since=reconcile_since)

    jobs: list[Any] = [post(channel, outcome.message, "room")]
    if outcome.refresh:
        jobs.append(refresh_card(deps, incident.id))
    broadcast = deps.settings.warroom_broadcast_channel
    if outcome.broadcast and broadcast:
        jobs.append(post(broadcast, broadcast_line(incident, outcome.message), "broadcast"))
    for result in await asyncio.gather(*jobs, return_exceptions=True):
        if isinstance(result, BaseException):
            raise result
    if outcome.rematch and incident.id is not None:
        await post_new_runbooks(deps, incident.id)
    if outcome.data.get("resolved") and incident.id is not None and key is None:
        # a change made outside a job (a card form); a job's change recorded it with the change
        resolving = resolve_key(incident.id, incident.resolved_at)
        await deps.jobs.submit(RESOLVE, resolving, {"incident_id": incident.id})


async def refresh_card(deps: Deps, incident_id: int | None) -> None:
    """Update the pinned card in place and make the topic follow."""
    assert incident_id is not None

    incident = await run_in_session(get_incident, incident_id)
    roles = await run_in_session(current_roles, incident_id)
    if incident.channel_id is None or incident.card_ts is None:
        return
    link = await run_in_session(draft_link, incident_id) if incident.closed_at else None
    alert = await run_in_session(opened_by, incident_id)
    call = call_link(deps.settings.warroom_call_url, incident.number, incident.title, incident.call_url)
    text, blocks = incident_card(incident, roles, link, alert, call)
    name = await deps.slack.display_name(incident.commander_id)
    await asyncio.gather(
        deps.slack.update(incident.channel_id, incident.card_ts, text, blocks),
        deps.slack.set_topic(incident.channel_id, topic(incident, name)),
    )
