"""The App Home tab: published whenever someone opens it (a durable job, bot/flows/overview.py);
its button opens the declare form."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.deps import Deps
from bot.flows.overview import HOME, publish_home
from bot.slack.errors import APOLOGY, asked, log_told
from bot.views.declare import declare_modal
from bot.views.home import DECLARE_ACTION


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the Home tab being opened and its Declare button."""

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        key = f"{HOME}:{body.get('event_id') or event.get('event_ts')}"  # Slack's retries share it
        await deps.jobs.submit(HOME, key, {"user": str(event["user"])})

    @app.action(DECLARE_ACTION)
    async def on_declare_clicked(ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        trigger_id, user_id = str(body["trigger_id"]), str(body["user"]["id"])

        async def report(exc: BaseException) -> None:
            log_told(exc, user=user_id, what=asked(body))
            await publish_home(deps, user_id, notice=APOLOGY)  # no response_url from a Home tab

        deps.worker.submit(
            lambda: deps.slack.open_form(trigger_id, declare_modal(page_picker=deps.can_page)),
            on_error=report,
            name="open a form",
            urgent=True,
        )
