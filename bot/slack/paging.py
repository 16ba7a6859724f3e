"""Paging a PagerDuty service's on-call for an incident: once per incident and service."""

from __future__ import annotations

from bot import clock
from bot.adapters.pagerduty import PagerDutyGateway, Service
from bot.alerts.paging import claim_page, page_text, record_page
from bot.deps import Deps
from bot.incidents.changes import Context
from bot.incidents.rules import escape_mrkdwn
from storage.models import Incident
from storage.session import run_in_session


async def send_page(
    deps: Deps,
    gateway: PagerDutyGateway,
    incident: Incident,
    service: Service,
    message: str,
    context: Context,
) -> str | None:
    """Claim the page, send it under its stable key, record it and say so in the war room.

    Returns the line said, or None when this incident had already paged the service.
    """
    assert incident.id is not None
    page = await run_in_session(claim_page, incident.id, service, context)
    if page is None:
        return None
    assert page.id is not None
    title, details = page_text(incident, message)
    opened = await gateway.trigger(service, title, page.incident_key, details)
    if await run_in_session(record_page, page.id, opened, clock.now()) is None:
        return None
    who = escape_mrkdwn(", ".join(opened.assignees)) or "nobody is assigned yet"
    link = f" (<{opened.html_url}|PagerDuty {opened.id}>)" if opened.html_url else ""
    text = f"<@{context.actor.user_id}> paged the on-call of {escape_mrkdwn(service.name)}: {who}{link}"
    if message:
        text += f"\n>{escape_mrkdwn(message)}"
    if incident.channel_id:
        await deps.slack.post(incident.channel_id, text)
    return text
