"""Sending what a use case decided: invites, the card and topic, the channel line, the broadcast."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from bot import clock
from bot.adapters.slack import SlackCallFailed
from bot.alerts.links import opened_by
from bot.deps import Deps
from bot.flows.linked import RESOLVE, resolve_key
from bot.flows.runbooks import post_new_runbooks
from bot.incidents.changes import Context, Outcome, current_roles
from bot.incidents.errors import InvalidInput
from bot.incidents.permissions import Actor
from bot.incidents.service import get_incident
from bot.postmortem.closing import draft_link
from bot.slack.errors import answer_for, asked, asker
from bot.slack.views.card import broadcast_line, incident_card, topic
from storage.session import run_in_session


async def context_for(deps: Deps, user_id: str, team_id: str, channel_id: str | None) -> Context:
    """Who is asking, as Slack knows them (guest, other workspace), and from where."""
    user = await deps.slack.user(user_id)
    actor = Actor(
        user_id=user_id,
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        is_external=bool(user.get("team_id")) and user.get("team_id") != team_id,
    )
    return Context(
        actor=actor,
        at=clock.now(),
        admins=deps.settings.warroom_admins,
        channel_id=channel_id,
        bot_user_id=await deps.slack.bot_user_id(),
    )


async def require_person(deps: Deps, user_id: str, duty: str = "hold incident roles") -> None:
    """Refuse unknown people, bots and deactivated accounts for `duty` (a role, a follow-up)."""
    try:
        user = await deps.slack.user(user_id)
    except SlackCallFailed as exc:
        if exc.error != "user_not_found":
            raise
        raise InvalidInput(f"<@{user_id}> is not someone in this workspace; name a person.") from None
    if user.get("is_bot") or user.get("deleted") or user_id == "USLACKBOT":
        raise InvalidInput(f"Bots and deactivated accounts cannot {duty}; name a person.")


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


async def post_once(
    deps: Deps,
    channel: str,
    text: str,
    *,
    key: str | None,
    since: float | None,
    blocks: list[dict[str, Any]] | None = None,
) -> str:
    """Post `text` unless a post carrying `key` is already in `channel` since `since`."""
    if key and since is not None:
        found = await deps.slack.find_posted(channel, key, since=since)
        if found is not None:
            return found
    return await deps.slack.post(channel, text, blocks, key=key)


async def tell(
    deps: Deps, where: dict[str, Any], text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Answer only the asker: through the response URL `where` names, else a whisper in its channel."""
    if where.get("response_url"):
        await deps.slack.respond(str(where["response_url"]), text, blocks)
    elif where.get("channel") and where.get("user"):
        await deps.slack.whisper(str(where["channel"]), str(where["user"]), text)


async def refresh_card(deps: Deps, incident_id: int | None) -> None:
    """Update the pinned card in place and make the topic follow."""
    assert incident_id is not None

    incident = await run_in_session(get_incident, incident_id)
    roles = await run_in_session(current_roles, incident_id)
    if incident.channel_id is None or incident.card_ts is None:
        return
    link = await run_in_session(draft_link, incident_id) if incident.closed_at else None
    alert = await run_in_session(opened_by, incident_id)
    text, blocks = incident_card(incident, roles, link, alert)
    name = await deps.slack.display_name(incident.commander_id)
    await asyncio.gather(
        deps.slack.update(incident.channel_id, incident.card_ts, text, blocks),
        deps.slack.set_topic(incident.channel_id, topic(incident, name)),
    )


def submit_for(
    deps: Deps,
    job: Callable[[], Awaitable[None]],
    body: dict[str, Any],
    channel: str,
    *,
    urgent: bool = False,
) -> None:
    """Run the `job` of a click or form (`body`) on the worker (at once when it opens a form); a
    refusal or failure is told to whoever sent it, in `channel`."""
    user, what = asker(body), asked(body)

    async def report(exc: BaseException) -> None:
        await deps.slack.whisper(channel, user, answer_for(exc, user=user, what=what))

    deps.worker.submit(job, on_error=report, name=what, urgent=urgent)


async def record_click(deps: Deps, kind: str, body: dict[str, Any], channel: str, **payload: Any) -> None:
    """Record the work of a click or form (`body`) as a durable job keyed by its trigger or
    view (a retried delivery finds it recorded); the payload names who sent it, their team and
    `channel`; a refusal or failure is whispered to them there."""
    user = asker(body)
    team = str((body.get("team") or {}).get("id") or body.get("user", {}).get("team_id") or "")
    # a form is submitted once (Slack closes it), so its view id keys it; a click, its trigger
    form = body.get("view", {}).get("id") if body.get("type") == "view_submission" else None
    key = f"{kind}:{form or body.get('trigger_id') or body.get('action_ts')}"
    asked = {"user": user, "team": team, "channel": channel}
    await deps.jobs.submit(kind, key, asked | payload, tell={"channel": channel, "user": user})
