"""The `/incident` slash command: hand the text to the router."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.slack.commands import CommandContext, Router


def register(app: AsyncApp, deps: Deps, router: Router) -> None:
    """Route `/incident <subcommand>`."""

    @app.command("/incident")
    async def on_incident(ack: AsyncAck, command: dict[str, Any]) -> None:
        context = CommandContext(deps, ack, command, str(command.get("text") or ""))
        await router.dispatch(context)
