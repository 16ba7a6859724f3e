"""Running an incident from its war room: sev, status, ic, role, resolve, reopen, update, note.

Each change subcommand parses its text (a mistake is answered at once), records the command
as a durable job and acks; the job checks who is asking, makes the change and records what
Slack should show (bot/flows/changes.py), so a crash after the ack loses nothing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from slack_bolt.async_app import AsyncApp
from sqlmodel import Session

from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.changes import COMMAND, change_and_record, on_incident, record_command
from bot.flows.effects import context_for, require_person, tell
from bot.incidents.changes import (
    AlreadyChanged,
    Outcome,
    change_severity,
    change_status,
    reopen_incident,
    resolve_incident,
)
from bot.incidents.errors import InvalidInput
from bot.incidents.notes import add_note, post_update
from bot.incidents.roles import assign_role
from bot.incidents.rules import (
    Role,
    Severity,
    Status,
    clean_note,
    clean_summary,
    parse_severity,
    parse_status,
    parse_user,
)
from bot.jobs import faults
from bot.jobs.queue import Claimed
from bot.slack.commands import CommandContext, Router, Subcommand
from bot.slack.errors import log_told
from storage.session import run_in_session

NOTE = "incident.note"
Parser = Callable[[str], tuple[Any, ...]]


@dataclass(frozen=True)
class Change:
    """A subcommand that changes an incident: how to read its text and which use case to run."""

    name: str
    usage: str
    summary: str
    example: str
    parse: Parser
    use_case: Callable[..., Any]
    names_person: bool = False  # the last parsed value is a user id who will hold a role
    # a card form's shown value (compared before changing: one winner) as the use case's last arguments
    expecting: Callable[[str], tuple[Any, ...]] = lambda _shown: ()


def _nothing(text: str) -> tuple[()]:
    if text.strip():
        raise InvalidInput("This subcommand takes no text.")
    return ()


def _role_and_person(text: str) -> tuple[Role, str]:
    name, _, person = text.strip().partition(" ")
    choices = (Role.COMMS, Role.SCRIBE, Role.OPS)
    role = next((r for r in choices if r.value == name.lower()), None)
    if role is None:
        raise InvalidInput("Name a role and a person: `/incident role <comms|scribe|ops> @user`.")
    return role, parse_user(person)


CHANGES = (
    Change(
        "sev",
        "sev <1-4>",
        "change the severity; raising it is announced.",
        "/incident sev 1",
        lambda text: (parse_severity(text),),
        change_severity,
        expecting=lambda shown: (Severity(int(shown)),),
    ),
    Change(
        "status",
        "status <investigating|identified|monitoring|resolved>",
        "change the status.",
        "/incident status identified",
        lambda text: (parse_status(text),),
        change_status,
        expecting=lambda shown: ("", Status(shown)),
    ),
    Change(
        "ic",
        "ic @user",
        "hand the incident commander role to someone.",
        "/incident ic @bob",
        lambda text: (Role.COMMANDER, parse_user(text)),
        assign_role,
        names_person=True,
        expecting=lambda shown: (shown,),
    ),
    Change(
        "role",
        "role <comms|scribe|ops> @user",
        "give someone a role.",
        "/incident role scribe @carol",
        _role_and_person,
        assign_role,
        names_person=True,
    ),
    Change(
        "resolve",
        "resolve [summary]",
        "mark the incident resolved.",
        "/incident resolve rolled back to v41",
        lambda text: (clean_summary(text),),
        resolve_incident,
    ),
    Change(
        "reopen",
        "reopen",
        "reopen a resolved or closed incident.",
        "/incident reopen",
        _nothing,
        reopen_incident,
    ),
    Change(
        "update",
        "update <text>",
        "post a status update here and in the broadcast channel.",
        "/incident update Rollback done, error rate falling",
        lambda text: (clean_note(text),),
        post_update,
    ),
)


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Add the change subcommands and `note` to the router."""
    for change in CHANGES:
        router.add(Subcommand(change.name, change.usage, change.summary, (change.example,), _handler(change)))
    deps.jobs.register(COMMAND, lambda job: run_change(deps, job))
    deps.jobs.register(NOTE, lambda job: run_note(deps, job))
    router.add(
        Subcommand(
            "note",
            "note <text>",
            "add a note to the timeline.",
            ("/incident note Deploy 4512 started 09:02",),
            on_note,
        )
    )


def _handler(change: Change) -> Callable[[CommandContext], Any]:
    async def on_change(ctx: CommandContext) -> None:
        try:
            change.parse(ctx.args)  # a mistake is answered now; the job parses it again
        except InvalidInput as exc:
            await ctx.refuse(exc.user_message)
            return
        await run_in_session(record_command, change.name, ctx.args, ctx.number, ctx.command)
        ctx.deps.jobs.wake()
        await ctx.ack()

    return on_change


def run_change(deps: Deps, job: Claimed) -> Awaitable[None]:
    """The command job: check the asker, make the change and record its outcome together."""
    payload = job.payload
    change = next(change for change in CHANGES if change.name == payload["change"])

    async def run() -> None:
        try:
            await attempt()
        except WarroomError as exc:  # the dispatcher tells them; the log says who was refused what
            log_told(exc, user=str(payload["user"]), what=f"/incident {change.name}")
            raise

    async def attempt() -> None:
        params = change.parse(str(payload["args"]))
        if change.names_person:
            await require_person(deps, params[-1])
        context = await context_for(deps, payload["user"], payload["team"], payload["channel"])

        # a card form names what it showed, so of two forms saved at once only the first changes it
        shown = change.expecting(str(payload["expected"])) if payload.get("expected") is not None else ()

        def make(session: Session) -> Outcome:
            outcome: Outcome = on_incident(session, payload, change.use_case, *params, context, *shown)
            return outcome

        if await run_in_session(change_and_record, job, make):
            faults.step("change.committed")
            deps.jobs.wake()

    return run()


async def on_note(ctx: CommandContext) -> None:
    """Record a note (a mistake is answered now); the job adds it and confirms it to its author."""
    try:
        clean_note(ctx.args)
    except InvalidInput as exc:
        await ctx.refuse(exc.user_message)
        return
    await ctx.record(NOTE)
    await ctx.ack()


async def run_note(deps: Deps, job: Claimed) -> None:
    """The note job: add it once (keyed by the command), then confirm it to its author."""
    payload = job.payload
    context = await context_for(deps, payload["user"], payload["team"], payload["channel"])
    note = partial(add_note, key=job.key)
    with suppress(AlreadyChanged):  # an earlier attempt added it and died before confirming
        await run_in_session(on_incident, payload, note, clean_note(payload["args"]), context)
    faults.step("note.added")
    await tell(deps, job.tell or {}, "Added to the timeline.")
