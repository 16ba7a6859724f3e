"""The `/incident` router: subcommands register here, help and suggestions come from it."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.flows.effects import context_for
from bot.incidents.changes import Context
from bot.incidents.rules import incident_number
from bot.slack.errors import answer_for, log_refusal
from bot.text import escape_mrkdwn

TEXT_MAX = 4000
# help's sections by topic, in reading order; a subcommand left out is shown under "More"
HELP_TOPICS = (
    ("Start", ("declare", "drill", "list")),
    (
        "Run it: in its war room, or name it first (`/incident INC-4 sev 2`)",
        ("ic", "role", "sev", "status", "note", "update", "timeline", "resolve", "reopen"),
    ),
    ("Runbooks and fixes", ("runbooks", "run", "killswitch")),
    ("Paging and alerts", ("page", "oncall", "triage")),
    ("Afterwards", ("close", "postmortem", "followup", "followups")),
)


@dataclass
class CommandContext:
    """One `/incident` invocation, as the subcommand handlers see it."""

    deps: Deps
    ack: AsyncAck
    command: dict[str, Any]
    args: str
    number: int | None = None
    subcommand: str = ""

    async def answer(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Acknowledge with a reply only the person who typed the command sees."""
        await self.ack(text=text, blocks=blocks, response_type="ephemeral")

    async def refuse(self, text: str) -> None:
        """Answer that Warroom will not do what was typed, and why; logged at INFO."""
        log_refusal(self.user_id, self.what, text)
        await self.answer(text)

    def open_modal(self, view: dict[str, Any]) -> None:
        """Open a modal right after the ack (the trigger lives 3 s); tell the person if it fails."""
        self.in_background(lambda: self.open_form(view), "open a form", urgent=True)

    async def open_form(self, view: dict[str, Any]) -> None:
        """Open `view` on this command's trigger."""
        await self.deps.slack.open_form(str(self.command["trigger_id"]), view)

    def in_background(self, job: Callable[[], Awaitable[Any]], name: str, *, urgent: bool = False) -> None:
        """Run `job` after the ack (at once when `urgent`: it opens a form); a refusal or failure
        is told to the person, ephemerally."""
        response_url = str(self.command["response_url"])

        async def report(exc: BaseException) -> None:
            await self.deps.slack.respond(response_url, answer_for(exc, user=self.user_id, what=name))

        self.deps.worker.submit(job, on_error=report, name=name, urgent=urgent)

    async def record(self, kind: str, **payload: Any) -> None:
        """Record the after-ack work as a durable job, keyed by this command's trigger (Slack's
        retry of the same request finds it recorded). The job's payload also names the asker,
        their team, the channel, the incident number and the rest of the text; a refusal or
        failure the job meets is told to the asker through the command's response URL."""
        asked = {
            "user": self.user_id,
            "team": str(self.command["team_id"]),
            "channel": self.channel_id,
            "number": self.number,
            "args": self.args,
        }
        key = f"{kind}:{self.command['trigger_id']}"
        tell = {"response_url": str(self.command["response_url"])}
        await self.deps.jobs.submit(kind, key, asked | payload, tell=tell)

    async def tell(self, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Answer later (from the worker), only to the person who asked."""
        await self.deps.slack.respond(str(self.command["response_url"]), text, blocks)

    async def asker(self) -> Context:
        """Who typed the command, as the domain checks them (guest, other workspace, admin)."""
        return await context_for(self.deps, self.user_id, str(self.command["team_id"]), self.channel_id)

    @property
    def user_id(self) -> str:
        """Who typed the command."""
        return str(self.command["user_id"])

    @property
    def channel_id(self) -> str:
        """Where the command was typed."""
        return str(self.command["channel_id"])

    @property
    def what(self) -> str:
        """The command and subcommand, for the log (never the rest of the text: it may be anything)."""
        return f"{self.command.get('command', '/incident')} {self.subcommand}".strip()


Handler = Callable[[CommandContext], Awaitable[None]]


@dataclass(frozen=True)
class Subcommand:
    """A subcommand, its usage line and what `help` says about it."""

    name: str
    usage: str
    summary: str
    examples: tuple[str, ...]
    handler: Handler


@dataclass
class Router:
    """Subcommands by name; `help` and unknown-name suggestions read this table."""

    subcommands: dict[str, Subcommand] = field(default_factory=dict)

    def add(self, subcommand: Subcommand) -> None:
        """Register a subcommand."""
        self.subcommands[subcommand.name] = subcommand

    async def dispatch(self, context: CommandContext) -> None:
        """Run the subcommand named first in the text, or answer with help or a suggestion."""
        text = context.args.strip()
        if len(text) > TEXT_MAX:
            await context.refuse(f"That command is {len(text)} characters; keep it under {TEXT_MAX}.")
            return
        name, _, rest = text.partition(" ")
        context.number = incident_number(name)
        if context.number is not None:
            name, _, rest = rest.strip().partition(" ")
        name = name.lower()
        if name in ("", "help"):
            await context.answer("How to use /incident", self.help_blocks())
            return
        subcommand = self.subcommands.get(name)
        if subcommand is None:
            await context.refuse(self.unknown(name))
            return
        context.args, context.subcommand = rest.strip(), name
        await subcommand.handler(context)

    def unknown(self, name: str) -> str:
        """The answer to a subcommand that does not exist, suggesting the closest."""
        shown = name if len(name) <= 30 else name[:30] + "…"
        shown = escape_mrkdwn(shown.replace("`", "'"))
        close = difflib.get_close_matches(name, list(self.subcommands), n=1, cutoff=0.5)
        hint = f" Did you mean `/incident {close[0]}`?" if close else ""
        return f"`{shown}` is not an /incident subcommand.{hint} Type `/incident help` to see them all."

    def help_blocks(self) -> list[dict[str, Any]]:
        """What each subcommand does, with examples: a section per topic, well inside Slack's 3,000."""
        shown = {name for _, names in HELP_TOPICS for name in names}
        rest = tuple(sorted(name for name in self.subcommands if name not in shown))
        sections = ["*/incident* — declare and run incidents from Slack. `/incident help` shows this."]
        for heading, names in (*HELP_TOPICS, ("More", rest)):
            lines = [self._help_line(self.subcommands[name]) for name in names if name in self.subcommands]
            if lines:
                sections.append("\n".join([f"*{heading}*", *lines]))
        return [{"type": "section", "text": {"type": "mrkdwn", "text": text}} for text in sections]

    @staticmethod
    def _help_line(sub: Subcommand) -> str:
        examples = "  ".join(f"`{example}`" for example in sub.examples)
        return f"• `/incident {sub.usage}` — {sub.summary}\n    e.g. {examples}"
