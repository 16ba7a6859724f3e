"""`/incident page <service> [message]` pages a PagerDuty service's on-call once per incident;
`/incident oncall [service]` shows who is on call now, only to the person who asked."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.deps import Deps
from bot.flows.paging import NOT_CONFIGURED, ONCALL, PAGE_COMMAND
from bot.slack.commands import CommandContext, Router, Subcommand

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
    """Checked at once; the permission check and the page itself run after the ack, as jobs."""
    name, message = _service_and_rest(ctx.args)
    gateway = ctx.deps.pagerduty
    if not name:
        await ctx.refuse(PAGE_USAGE)
        return
    if gateway is None or not gateway.can_write:
        await ctx.refuse(NOT_CONFIGURED)
        return
    await ctx.ack()
    await ctx.record(PAGE_COMMAND, service=name, message=message)


async def on_oncall(ctx: CommandContext) -> None:
    """Who is on call for the named service, or for every service the incident touches."""
    if ctx.deps.pagerduty is None:
        await ctx.refuse(NOT_CONFIGURED)
        return
    await ctx.ack()
    await ctx.record(ONCALL, service=_straight_quotes(ctx.args).strip('"').strip())


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
