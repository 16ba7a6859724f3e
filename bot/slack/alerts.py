"""After a PagerDuty webhook is stored: process it and show in Slack what it means."""

from __future__ import annotations

import asyncio
import logging

from bot import clock
from bot.alerts.links import Linked, open_links, record_resolutions
from bot.alerts.service import has_pending, process_batch
from bot.alerts.updates import Processed
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.rooms import open_room_later
from bot.incidents.service import get_incident
from storage.session import run_in_session

log = logging.getLogger(__name__)
GATHER_SECONDS = 0.1


async def process_deliveries(deps: Deps) -> int:
    """Handle every stored delivery not yet handled, in batches; return how many this call did."""
    # At start-up, and wherever PagerDuty is not set up, nothing waits: ask Slack for nothing.
    if not await run_in_session(has_pending):
        return 0
    bot = await deps.slack.bot_user_id()
    handled = 0
    # let a storm gather for a moment: one batch of hundreds costs about what one delivery does
    await asyncio.sleep(GATHER_SECONDS)
    while True:
        claimed, results = await run_in_session(process_batch, deps.rules, bot, clock.now())
        if not claimed:
            return handled
        handled += claimed
        for result in results:
            await show(deps, result)


async def show(deps: Deps, result: Processed) -> None:
    """Open the war room of a new incident, post a low-urgency notice, or tell a room."""
    if result.opened is not None:
        await open_room_later(deps, result.opened)
    if result.notice is not None:
        channel, text = result.notice
        await deps.slack.post(channel, text)
    if result.linked is not None and result.linked.channel_id and result.line:
        await deps.slack.post(result.linked.channel_id, f":pager: {result.line}")


async def resolve_linked_pagerduty(deps: Deps, incident_id: int) -> None:
    """Resolve every PagerDuty incident the resolved war room follows that is still open, once
    each, and say in the room which were resolved and which could not be."""
    if deps.pagerduty is None or not deps.settings.warroom_resolve_pagerduty:
        return
    resolved: list[Linked] = []
    already: list[Linked] = []
    failed: list[tuple[Linked, str]] = []
    for link in await run_in_session(open_links, incident_id):
        try:
            (resolved if await deps.pagerduty.resolve(link.pd_incident_id) else already).append(link)
        except WarroomError as exc:
            log.warning("could not resolve PagerDuty incident %s: %s", link.pd_incident_id, exc)
            failed.append((link, exc.user_message))
    line = await run_in_session(record_resolutions, incident_id, resolved, already, failed, clock.now())
    if not line:
        return
    incident = await run_in_session(get_incident, incident_id)
    if incident.channel_id:
        await deps.slack.post(incident.channel_id, f":pager: {line}")
