"""`/incident page <service> [message]` pages a PagerDuty service's on-call once per incident;
`/incident oncall [service]` shows who is on call now, only to the person who asked."""

from __future__ import annotations

import asyncio
from datetime import UTC

from slack_bolt.async_app import AsyncApp

from bot.adapters.pagerduty import OnCall, Service
from bot.alerts.paging import existing_page, incident_to_page, services_of
from bot.deps import Deps
from bot.incidents.changes import find_incident
from bot.incidents.rules import escape_mrkdwn
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.paging import send_page
from storage.models import Incident
from storage.session import run_in_session

NOT_CONFIGURED = (
    "PagerDuty is not configured: set PAGERDUTY_API_TOKEN, PAGERDUTY_API_URL and PAGERDUTY_FROM_EMAIL."
)
PAGE_USAGE = (
    "Name the PagerDuty service: `/incident page <service> [message]`, e.g. "
    '`/incident page checkout 500s since 09:02`; quote a name with spaces: `"Orders DB"`.'
)


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add `page` and `oncall` to the router."""
    router.add(
        Subcommand(
            "page",
            "page <service> [message]",
            "page the on-call of a PagerDuty service (once per incident and service).",
            ("/incident page checkout 500s since 09:02", '/incident page "Orders DB"'),
            on_page,
        )
    )
    router.add(
        Subcommand(
            "oncall",
            "oncall [service]",
            "who is on call now at each escalation level, only to you.",
            ("/incident oncall", "/incident oncall checkout"),
            on_oncall,
        )
    )


async def on_page(ctx: CommandContext) -> None:
    """Checked at once; the permission check and the page itself run after the ack."""
    name, message = _service_and_rest(ctx.args)
    gateway = ctx.deps.pagerduty
    if not name:
        await ctx.refuse(PAGE_USAGE)
        return
    if gateway is None or not gateway.can_write:
        await ctx.refuse(NOT_CONFIGURED)
        return
    await ctx.ack()

    async def job() -> None:
        context = await ctx.asker()
        incident = await run_in_session(incident_to_page, ctx.number, ctx.channel_id, context)
        service = await gateway.find_service(name)
        said = await send_page(ctx.deps, gateway, incident, service, message, context)
        if said is None:
            await _already_paged(ctx, incident, service)
        elif not incident.channel_id:
            await ctx.tell(said)  # the war room is still opening

    ctx.in_background(job, "/incident page")


async def _already_paged(ctx: CommandContext, incident: Incident, service: Service) -> None:
    assert incident.id is not None
    page = await run_in_session(existing_page, incident.id, service.id)
    at = page.paged_at.astimezone(UTC)
    await ctx.tell(f"Already paged the on-call of {escape_mrkdwn(service.name)} at {at:%H:%M} UTC.")


async def on_oncall(ctx: CommandContext) -> None:
    """Who is on call for the named service, or for every service the incident touches."""
    gateway = ctx.deps.pagerduty
    if gateway is None:
        await ctx.refuse(NOT_CONFIGURED)
        return
    name = _straight_quotes(ctx.args).strip('"').strip()
    await ctx.ack()

    async def job() -> None:
        if name:
            services = [await gateway.find_service(name)]
        else:
            incident = await run_in_session(find_incident, number=ctx.number, channel_id=ctx.channel_id)
            assert incident.id is not None
            known = await run_in_session(services_of, incident.id)
            if not known:
                await ctx.tell(
                    f"{incident.ref} touches no PagerDuty service yet: name one, e.g. "
                    "`/incident oncall checkout`, or page one with `/incident page <service>`."
                )
                return
            services = [await gateway.service(service_id) for service_id, _ in known]
        rotas = await asyncio.gather(*(gateway.oncalls(s.escalation_policy_id) for s in services))
        await ctx.tell("\n\n".join(_rota(s, oncalls) for s, oncalls in zip(services, rotas, strict=True)))

    ctx.in_background(job, "/incident oncall")


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


def _service_and_rest(text: str) -> tuple[str, str]:
    """`checkout rest…` or `"Orders DB" rest…`: a quoted service name may hold spaces."""
    text = _straight_quotes(text)
    if text.startswith('"'):
        name, _, rest = text[1:].partition('"')
    else:
        name, _, rest = text.partition(" ")
    return name.strip(), rest.strip()


def _straight_quotes(text: str) -> str:
    """Some keyboards turn quotes curly; read them as straight ones."""
    return text.strip().replace("“", '"').replace("”", '"')
