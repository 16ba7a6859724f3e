"""`/incident page` and `/incident oncall`, and the page itself, as durable jobs.

`/incident page <service> [message]` records `pagerduty.page_command` keyed by its trigger: it
checks the asker, finds the incident and the service, then records the page, `pagerduty.page`,
keyed `page:<incident id>:<service id>`: an incident pages a service once (the declare form
records the same job), so asking again is answered "already paged". The page job claims its
page row, opens the PagerDuty incident under the page's stable `incident_key` (PagerDuty refuses
a second open one on the service, and a retry asks for it first, so a retry after "sent but not
recorded" finds it instead of paging twice), records it and links it to the war room in one
transaction, then posts the room's line with its key in the metadata (found, not reposted, on a
retry). `/incident oncall` is read-only; its answer through the response URL is at most once.
"""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

from sqlmodel import Session, select

from bot import clock
from bot.adapters.pagerduty import OnCall, PagerDutyGateway, Service
from bot.alerts.paging import (
    claim_page,
    existing_page,
    find_page,
    incident_to_page,
    page_line,
    page_text,
    record_page,
    services_of,
)
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.effects import context_for, post_once, retry_since
from bot.incidents.changes import find_incident
from bot.incidents.service import get_incident
from bot.jobs import faults, queue
from bot.jobs.dispatcher import is_transient
from bot.jobs.queue import Claimed
from bot.text import escape_mrkdwn
from storage.models import Job
from storage.session import run_in_session

PAGE_COMMAND = "pagerduty.page_command"
PAGE = "pagerduty.page"
PAGE_AGAIN = " The war room is open: page again with `/incident page <service>`."
ONCALL = "pagerduty.oncall"
NOT_CONFIGURED = (
    "PagerDuty is not configured: set PAGERDUTY_API_TOKEN, PAGERDUTY_API_URL and PAGERDUTY_FROM_EMAIL."
)


def page_key(incident_id: int, service_id: str) -> str:
    """The page job's key: one page per incident and service."""
    return f"page:{incident_id}:{service_id}"


def register(deps: Deps) -> None:
    """Run page and on-call jobs in this process."""
    deps.jobs.register(PAGE_COMMAND, lambda job: page_command(deps, job))
    deps.jobs.register(PAGE, lambda job: page(deps, job))
    deps.jobs.register(ONCALL, lambda job: oncall(deps, job))


def _gateway(deps: Deps) -> PagerDutyGateway:
    if deps.pagerduty is None:
        raise WarroomError(NOT_CONFIGURED)
    return deps.pagerduty


async def page_command(deps: Deps, job: Claimed) -> None:
    """Check the asker, find the incident and the service, and record the page."""
    asked = job.payload
    context = await context_for(deps, asked["user"], asked["team"], asked["channel"])
    incident = await run_in_session(incident_to_page, asked["number"], asked["channel"], context)
    service = await _gateway(deps).find_service(str(asked["service"]))
    assert incident.id is not None
    wanted = {
        "incident_id": incident.id,
        "service_id": service.id,
        "user": asked["user"],
        "team": asked["team"],
        "message": asked["message"],
        "command": job.key,
    }
    already = await run_in_session(_record_page, wanted, job.tell)
    faults.step("page.recorded_job")
    deps.jobs.wake()
    if already and job.tell and job.tell.get("response_url"):
        await deps.slack.respond(str(job.tell["response_url"]), already)


def _record_page(session: Session, wanted: dict[str, Any], tell: dict[str, Any] | None) -> str:
    """Record the page job; "" when recorded now (or by this command before), else what to say."""
    key = page_key(wanted["incident_id"], wanted["service_id"])
    if queue.record(session, PAGE, key, wanted, at=clock.now(), tell=tell):
        return ""
    earlier = session.exec(select(Job).where(Job.key == key)).one()
    if earlier.payload.get("command") == wanted["command"]:
        return ""  # this command recorded it before a crash
    if earlier.state == queue.FAILED and earlier.id is not None:  # PagerDuty refused it: page again
        earlier.payload, earlier.tell = wanted, tell
        session.flush()
        queue.retry_failed(session, earlier.id, at=clock.now())
        return ""
    page = find_page(session, wanted["incident_id"], wanted["service_id"])
    if page is None or page.pd_incident_id is None:
        return "That service's on-call is being paged already."
    at = page.paged_at.astimezone(UTC)
    return f"Already paged the on-call of {escape_mrkdwn(page.service_name)} at {at:%H:%M} UTC."


async def page(deps: Deps, job: Claimed) -> None:
    """Page the service's on-call for the incident once, link it, and say so in the room once.
    A page the declare form chose that fails for good tells the declarer how to page again."""
    try:
        await _page(deps, job)
    except WarroomError as exc:
        if is_transient(exc) or "command" in job.payload:
            raise
        raise WarroomError(f"{exc.user_message}{PAGE_AGAIN}") from exc


async def _page(deps: Deps, job: Claimed) -> None:
    gateway = _gateway(deps)
    asked = job.payload
    incident_id, service_id = int(asked["incident_id"]), str(asked["service_id"])
    message = str(asked.get("message") or "")  # the declare form's page carries none
    incident = await run_in_session(get_incident, incident_id)
    recorded = await run_in_session(_recorded_page, incident_id, service_id)
    if recorded is None:
        workspace = deps.slack.state.identity or await deps.slack.learn_identity()
        team = str(asked.get("team") or workspace.team_id)  # the declare form's page names none
        context = await context_for(deps, str(asked["user"]), team, incident.channel_id)
        service = await gateway.service(service_id)
        claimed = await run_in_session(claim_page, incident_id, service, context)
        if claimed is None:  # recorded meanwhile by a run that lost its lease
            claimed = await run_in_session(existing_page, incident_id, service_id)
        assert claimed.id is not None
        title, details = page_text(incident, message)
        opened = await gateway.trigger(service, title, claimed.incident_key, details, look_first=job.retried)
        faults.step("page.sent")
        await run_in_session(record_page, claimed.id, opened, clock.now())
        faults.step("page.recorded")
        recorded = claimed.id
    await _say(deps, job, incident.channel_id, await run_in_session(page_line, recorded, message))
    faults.step("page.posted")


def _recorded_page(session: Session, incident_id: int, service_id: str) -> int | None:
    """The id of this incident's page of the service if PagerDuty's answer is recorded."""
    page = find_page(session, incident_id, service_id)
    return page.id if page is not None and page.pd_incident_id is not None else None


async def _say(deps: Deps, job: Claimed, channel: str | None, text: str) -> None:
    """In the war room once; to the asker if the room is still opening."""
    if channel:
        since = retry_since(job)
        await post_once(deps, channel, text, key=f"{job.key}:room", since=since)
    elif job.tell and job.tell.get("response_url"):
        await deps.slack.respond(str(job.tell["response_url"]), text)


async def oncall(deps: Deps, job: Claimed) -> None:
    """Who is on call for the named service, or for every service the incident touches."""
    gateway = _gateway(deps)
    asked = job.payload
    name = str(asked["service"])
    if name:
        services = [await gateway.find_service(name)]
    else:
        incident = await run_in_session(find_incident, number=asked["number"], channel_id=asked["channel"])
        assert incident.id is not None
        known = await run_in_session(services_of, incident.id)
        if not known:
            raise WarroomError(
                f"{incident.ref} touches no PagerDuty service yet: name one, e.g. "
                "`/incident oncall checkout`, or page one with `/incident page <service>`."
            )
        services = [await gateway.service(service_id) for service_id, _ in known]
    rotas = await asyncio.gather(*(gateway.oncalls(s.escalation_policy_id) for s in services))
    text = "\n\n".join(_rota(s, oncalls) for s, oncalls in zip(services, rotas, strict=True))
    if job.tell and job.tell.get("response_url"):
        await deps.slack.respond(str(job.tell["response_url"]), text)


def _rota(service: Service, oncalls: list[OnCall]) -> str:
    """One service's on-calls, a line per escalation level."""
    lines = [f"*On call now for {escape_mrkdwn(service.name)}*"]
    for oncall in oncalls:
        email = f" ({escape_mrkdwn(oncall.email)})" if oncall.email else ""
        schedule = f", {escape_mrkdwn(oncall.schedule)}" if oncall.schedule else ""
        until = f" until {oncall.until.astimezone(UTC):%a %d %b %H:%M} UTC" if oncall.until else ""
        lines.append(f"• Level {oncall.level}: {escape_mrkdwn(oncall.user)}{email}{schedule}{until}")
    if not oncalls:
        lines.append("• Nobody is on call in its escalation policy right now.")
    return "\n".join(lines)
