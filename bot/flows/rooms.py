"""Opening a war room: job `room.open`, key `room:<incident id>`, recorded in the transaction
that declares the incident, so an acknowledged declaration always gets its room.

Payload: the incident's id, with its number, title and privacy (what naming and creating the
channel needs, so the first Slack call waits on no read), and the PagerDuty service the declare
form chose to page, if any.

Three Slack round trips: create the channel; invite the declarer ‖ post the card ‖ set the
topic ‖ announce; pin the card. A retry reconciles what would otherwise be made twice: the
channel is adopted only if Slack says Warroom created it, under one of this incident's names,
after the job was recorded; the card and the announcement are found by their keys in Slack's
message metadata. Inviting, the topic and the pin are simply done again. The declarer's "is
open" answer goes through a response_url, which cannot be checked: at most once.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.adapters.slack import NameTaken, SlackCallFailed
from bot.alerts.links import Linked, opened_by
from bot.alerts.service import alerts_of, room_text
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.calls import record_call_job
from bot.flows.paging import PAGE, page_key
from bot.flows.runbooks import post_new_runbooks
from bot.incidents.rules import Declaration, call_link, channel_name
from bot.incidents.service import attach_channel, declare_incident, get_incident, mark_room_ready
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from bot.views.card import announcement, incident_card, topic
from storage.models import Incident
from storage.session import run_in_session

log = logging.getLogger(__name__)
KIND = "room.open"
ALERT_BLOCK = "alert.block"  # an alert shown in its war room with its triage buttons
NAME_ATTEMPTS = 10
# How much earlier than the job Slack may date a channel it made: clocks differ, `created` is
# whole seconds.
CLOCK_SKEW = timedelta(seconds=60)


class RoomNotOpened(WarroomError):
    """Slack refused a step of the room's opening for good; the declarer is told."""


def room_key(incident_id: int) -> str:
    """The job's key: one room per incident."""
    return f"room:{incident_id}"


def declare(
    session: Session, declaration: Declaration, *, page_service: str | None = None, **how: Any
) -> tuple[Incident, bool]:
    """Declare (see `declare_incident`) and record the room's opening in the same transaction."""
    incident, created = declare_incident(session, declaration, **how)
    if created:
        record_room(session, incident, page_service=page_service)
    return incident, created


def record_room(session: Session, incident: Incident, *, page_service: str | None = None) -> bool:
    """Record the opening of `incident`'s war room in the caller's transaction."""
    assert incident.id is not None
    payload: dict[str, Any] = {
        "incident_id": incident.id,
        "number": incident.number,
        "title": incident.title,
        "private": incident.private,
    }
    if page_service:
        payload["page_service"] = page_service
    return queue.record(session, KIND, room_key(incident.id), payload, at=clock.now(), tell=_tell(incident))


def register(deps: Deps) -> None:
    """Open war rooms in this process."""
    deps.jobs.register(KIND, lambda job: open_room(deps, job))


async def open_room(deps: Deps, job: Claimed) -> None:
    """Open the room, tell the declarer, then post the runbooks that fit."""
    incident_id = int(job.payload["incident_id"])
    try:
        ready = await _open(deps, job, incident_id)
    except SlackCallFailed as exc:
        if exc.transient:
            raise
        ref = f"INC-{job.payload['number']}"
        log.warning("could not open the war room of %s: %s", ref, exc.user_message)
        raise RoomNotOpened(
            f"The war room of {ref} could not be opened ({exc.user_message}). The incident is "
            f"recorded; an admin can try again with `warroom jobs retry {job.id}`."
        ) from exc
    if ready is not None:
        deps.jobs.wake()  # the page recorded with it
        if ready.response_url:
            await deps.slack.respond(
                ready.response_url,
                f"{ready.ref} is open in <#{ready.channel_id}>. "
                "You are the incident commander until you hand over.",
            )
    await post_new_runbooks(deps, incident_id)


async def _open(deps: Deps, job: Claimed, incident_id: int) -> Incident | None:
    """The room's Slack steps; the incident once this attempt marked it ready, None when an
    earlier attempt had."""
    bot = await deps.slack.bot_user_id()
    reconcile = job.retried
    known = await run_in_session(_read, incident_id, bot) if reconcile else None
    if known is None or known[0].channel_id is None:
        channel, name, adopted = await _channel(deps, job, bot)
        faults.step("rooms.channel_created")
        known = await run_in_session(_attach, incident_id, channel, name, clock.now(), bot)
        faults.step("rooms.channel_recorded")
        reconcile = reconcile or adopted
    incident, alert = known
    if incident.room_ready_at is not None:
        return None
    since = (job.created_at - CLOCK_SKEW).timestamp() if reconcile else None
    card_ts, broadcast_ts = await _furnish(deps, incident, alert, key=job.key, since=since, bot=bot)
    ready = await run_in_session(_ready, job, card_ts, broadcast_ts, clock.now(), deps.zoom is not None)
    faults.step("rooms.ready")
    return ready


def _read(session: Session, incident_id: int, bot: str) -> tuple[Incident, Linked | None]:
    incident = get_incident(session, incident_id)
    return incident, _alert(session, incident, bot)


def _attach(
    session: Session, incident_id: int, channel: str, name: str, at: datetime, bot: str
) -> tuple[Incident, Linked | None]:
    incident = attach_channel(session, incident_id, channel_id=channel, channel_name=name, at=at)
    return incident, _alert(session, incident, bot)


def _alert(session: Session, incident: Incident, bot: str) -> Linked | None:
    # Only Warroom itself declares an alert's incident: a person's has no alert to look up.
    assert incident.id is not None
    return opened_by(session, incident.id) if incident.declared_by == bot else None


async def _channel(deps: Deps, job: Claimed, bot: str) -> tuple[str, str, bool]:
    """The room's channel id and name, and whether an earlier attempt had created it: looked
    for before creating on a retry, or when Slack says a name is taken (a retry that looks new:
    `warroom jobs retry`)."""
    payload = job.payload
    private = bool(payload["private"])
    number, title = int(payload["number"]), str(payload["title"])
    names = [channel_name(number, title, attempt) for attempt in range(1, NAME_ATTEMPTS + 1)]
    looked = job.retried
    found = await _earlier_channel(deps, job, names, private, bot) if looked else None
    if found is not None:
        return *found, True
    for name in names:
        try:
            return await deps.slack.create_channel(name, private=private), name, False
        except NameTaken:
            if looked:
                continue
            looked = True
            found = await _earlier_channel(deps, job, names, private, bot)
            if found is not None:
                return *found, True
    raise SlackCallFailed("conversations.create", f"every name up to {names[-1]} is taken")


async def _earlier_channel(
    deps: Deps, job: Claimed, names: list[str], private: bool, bot: str
) -> tuple[str, str] | None:
    """A channel an earlier attempt created but could not record: one of this incident's names,
    created by Warroom, after the job was recorded."""
    since = (job.created_at - CLOCK_SKEW).timestamp()
    async with aclosing(deps.slack.channels(private=private)) as channels:
        async for channel in channels:
            if (
                channel.get("name") in names
                and channel.get("creator") == bot
                and float(channel.get("created") or 0) >= since
            ):
                return str(channel["id"]), str(channel["name"])
    return None


async def _furnish(
    deps: Deps, incident: Incident, alert: Linked | None, *, key: str, since: float | None, bot: str
) -> tuple[str, str | None]:
    """Invite ‖ card then pin ‖ topic ‖ announcement ‖ the call's bookmark (invite issued first);
    the card's and the announcement's ts. All finish before the first failure is raised: none is
    cut off."""
    channel = incident.channel_id
    assert channel is not None
    call = call_link(deps.settings.warroom_call_url, incident.number, incident.title, incident.call_url)

    async def invite() -> None:
        if incident.declared_by != bot:  # an alert's room: Warroom declared it and is in it
            await deps.slack.invite(channel, [incident.declared_by])

    async def card() -> str:
        text, blocks = incident_card(incident, alert=alert, call=call)
        ts = await _post_once(deps, channel, text, blocks, key=f"{key}:card", since=since)
        faults.step("rooms.card_posted")
        await deps.slack.pin(channel, ts)
        faults.step("rooms.pinned")
        return ts

    async def set_topic() -> None:
        commander = await deps.slack.display_name(incident.commander_id)
        await deps.slack.set_topic(channel, topic(incident, commander))

    async def announce() -> str | None:
        broadcast = deps.settings.warroom_broadcast_channel
        if not broadcast:
            return None
        text, blocks = announcement(incident, call)
        ts = await _post_once(deps, broadcast, text, blocks, key=f"{key}:broadcast", since=since)
        faults.step("rooms.announced")
        return ts

    async def bookmark() -> None:
        # a retry looks first: a bookmark carries no key, but its link says which it is
        if call and (since is None or call not in await deps.slack.bookmarked(channel)):
            await deps.slack.bookmark(channel, "Incident call", call)
            faults.step("rooms.bookmarked")

    invited, card_ts, topic_set, broadcast_ts, bookmarked = await asyncio.gather(
        invite(), card(), set_topic(), announce(), bookmark(), return_exceptions=True
    )
    for outcome in (invited, card_ts, topic_set, broadcast_ts, bookmarked):
        if isinstance(outcome, BaseException):
            raise outcome
    assert isinstance(card_ts, str) and not isinstance(broadcast_ts, BaseException)
    return card_ts, broadcast_ts


async def _post_once(
    deps: Deps, channel: str, text: str, blocks: list[dict[str, Any]], *, key: str, since: float | None
) -> str:
    """Post with `key` in the message metadata, unless a retry finds it posted since `since`."""
    found = await deps.slack.find_posted(channel, key, since=since) if since is not None else None
    return found or await deps.slack.post(channel, text, blocks, key=key)


def _ready(
    session: Session, job: Claimed, card_ts: str, broadcast_ts: str | None, at: datetime, meeting: bool
) -> Incident | None:
    """Mark the room ready and, with it, record the page the declare form chose and the job that
    makes the incident's `meeting`."""
    incident_id = int(job.payload["incident_id"])
    incident = mark_room_ready(session, incident_id, card_ts=card_ts, broadcast_ts=broadcast_ts, at=at)
    if incident is not None:
        record_alert_blocks(session, incident, at)
        if meeting and incident.drill_of is None:
            record_call_job(session, incident, _tell(incident))
    service = job.payload.get("page_service")
    if incident is not None and service:
        payload = {"incident_id": incident_id, "service_id": str(service), "user": incident.declared_by}
        queue.record(session, PAGE, page_key(incident_id, str(service)), payload, at=at, tell=_tell(incident))
    return incident


def record_alert_blocks(session: Session, incident: Incident, at: datetime) -> None:
    """With a war room opened for alerts, the job posting each alert there with its triage
    buttons (no Declare: this is its incident)."""
    assert incident.id is not None and incident.channel_id is not None
    for alert in alerts_of(session, incident.id):
        payload = {"channel": incident.channel_id, "text": room_text(alert), "alert": alert.id, "room": True}
        queue.record(session, ALERT_BLOCK, f"alert:{alert.id}:room:{incident.id}", payload, at=at)


def _tell(incident: Incident) -> dict[str, Any] | None:
    """Where a failure is told: the declarer's response_url (an alert's incident has none)."""
    return {"response_url": incident.response_url} if incident.response_url else None
