"""Opening a war room: the Slack writes that follow a declaration, resumable after a crash.

A step that would make something twice (the channel, the card, the broadcast) is recorded as
soon as Slack confirms it, so a restart continues instead of repeating it. Inviting, setting
the topic and pinning are safe to repeat, so they are simply done again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from bot import clock
from bot.adapters.slack import NameTaken, SlackCallFailed
from bot.alerts.links import opened_by
from bot.deps import Deps
from bot.incidents.rules import channel_name
from bot.incidents.service import (
    attach_channel,
    get_incident,
    mark_room,
    record_announcement,
    rooms_to_finish,
)
from bot.slack.errors import log_told
from bot.slack.runbooks import post_new_runbooks
from bot.slack.views.card import announcement, incident_card, topic
from bot.text import plural
from storage.models import Incident
from storage.session import run_in_session

log = logging.getLogger(__name__)
NAME_ATTEMPTS = 10


AfterOpen = Callable[[Incident], Awaitable[None]]


def submit_open_war_room(
    deps: Deps, incident: Incident, response_url: str | None, *, then: AfterOpen | None = None
) -> None:
    """Queue the war-room setup (and `then`, once it is open); a failure is told to the declarer."""
    incident_id = incident.id
    assert incident_id is not None

    async def report(exc: BaseException) -> None:
        log_told(exc, user=incident.declared_by, what=f"opening the war room of {incident.ref}")
        if response_url:
            reason = exc.user_message if isinstance(exc, SlackCallFailed) else "an unexpected error"
            await deps.slack.respond(
                response_url,
                f"Sorry, the war room could not be finished ({reason}). The incident is recorded; "
                "Warroom retries when it restarts, or ask an admin to check the logs.",
            )

    async def job() -> None:
        opened = await open_war_room(deps, incident_id)
        if then is not None:
            await then(opened)

    deps.worker.submit(
        job,
        on_error=report,
        name=f"open war room {incident_id}",
    )


async def open_war_room(deps: Deps, incident_id: int) -> Incident:
    """Create the channel, invite the declarer (not Warroom itself, which declares an alert's
    incident), then post and pin the card, set the topic and announce, those three side by side."""
    incident = await run_in_session(get_incident, incident_id)
    if incident.channel_id is None:
        incident = await _create_channel(deps, incident)
    channel = incident.channel_id
    assert channel is not None
    if incident.declared_by != await deps.slack.bot_user_id():  # an alert's room: Warroom is in it
        await deps.slack.invite(channel, [incident.declared_by])
    # Let all three finish before reporting the first failure, so none is cut off halfway.
    outcomes = await asyncio.gather(
        _post_and_pin_card(deps, incident),
        _set_topic(deps, incident),
        _announce(deps, incident),
        return_exceptions=True,
    )
    for outcome in outcomes:
        if isinstance(outcome, BaseException):
            raise outcome
    incident = await run_in_session(mark_room, incident_id, room_ready_at=clock.now())
    if incident.response_url:
        await deps.slack.respond(
            incident.response_url,
            f"{incident.ref} is open in <#{channel}>. You are the incident commander until you hand over.",
        )
    await post_new_runbooks(deps, incident_id)
    return incident


async def _create_channel(deps: Deps, incident: Incident) -> Incident:
    for attempt in range(1, NAME_ATTEMPTS + 1):
        name = channel_name(incident.number, incident.title, attempt)
        try:
            channel_id = await deps.slack.create_channel(name, private=incident.private)
        except NameTaken:
            continue
        assert incident.id is not None
        return await run_in_session(
            attach_channel, incident.id, channel_id=channel_id, channel_name=name, at=clock.now()
        )
    raise SlackCallFailed("conversations.create", f"every name up to {name} is taken")


async def _post_and_pin_card(deps: Deps, incident: Incident) -> None:
    assert incident.channel_id is not None
    card_ts = incident.card_ts
    if card_ts is None:
        text, blocks = incident_card(incident, alert=await run_in_session(opened_by, incident.id))
        card_ts = await deps.slack.post(incident.channel_id, text, blocks)
        await run_in_session(mark_room, incident.id, card_ts=card_ts)
    await deps.slack.pin(incident.channel_id, card_ts)


async def _set_topic(deps: Deps, incident: Incident) -> None:
    assert incident.channel_id is not None
    commander_name = await deps.slack.display_name(incident.commander_id)
    await deps.slack.set_topic(incident.channel_id, topic(incident, commander_name))


async def _announce(deps: Deps, incident: Incident) -> None:
    broadcast = deps.settings.warroom_broadcast_channel
    if not broadcast or incident.broadcast_ts:
        return
    text, blocks = announcement(incident)
    ts = await deps.slack.post(broadcast, text, blocks)
    await run_in_session(record_announcement, incident.id, ts=ts, at=clock.now())


async def resume_unfinished_rooms(deps: Deps) -> int:
    """Queue the setup of every war room a previous process left half-done."""
    unfinished = await run_in_session(rooms_to_finish)
    for incident in unfinished:
        submit_open_war_room(deps, incident, response_url=None)
    if unfinished:
        log.info("resuming %s", plural(len(unfinished), "unfinished war room"))
    return len(unfinished)
