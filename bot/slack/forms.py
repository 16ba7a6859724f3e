"""Buttons that open a form: the permission check runs after the ack, then the form opens."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from slack_bolt.context.ack.async_ack import AsyncAck
from sqlmodel import Session

from bot.deps import Deps
from bot.flows.effects import context_for
from bot.incidents.changes import Context
from bot.slack.effects import submit_for
from storage.session import run_in_session

T = TypeVar("T")


def press_opens_form(
    deps: Deps, load: Callable[[Session, int, Context], T], build: Callable[[T, str], dict[str, Any]]
) -> Callable[..., Awaitable[None]]:
    """A listener for a button whose value is an incident id: `load` checks the clicker may act
    (raising a `WarroomError` they are told), then the form `build` makes is opened."""

    async def on_press(ack: AsyncAck, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, channel = body["user"]["id"], body["channel"]["id"]

        async def job() -> None:
            ctx = await context_for(deps, user, body["team"]["id"], channel)
            loaded = await run_in_session(load, int(action["value"]), ctx)
            await deps.slack.open_form(body["trigger_id"], build(loaded, channel))

        submit_for(deps, job, body, channel, urgent=True)

    return on_press
