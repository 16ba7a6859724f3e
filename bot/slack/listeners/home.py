"""The App Home tab: published whenever someone opens it; its button opens the declare form."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot import clock
from bot.deps import Deps
from bot.incidents.notes import my_open_incidents, visible_open_incidents
from bot.slack.errors import APOLOGY, asked, log_told
from bot.slack.views.declare import declare_modal
from bot.slack.views.home import DECLARE_ACTION, home_view
from storage.session import run_in_session


def register(app: AsyncApp, deps: Deps) -> None:
    """Listen for the Home tab being opened and its Declare button."""

    @app.event("app_home_opened")
    async def on_home_opened(event: dict[str, Any]) -> None:
        if event.get("tab") != "home":
            return
        user_id = str(event["user"])
        deps.worker.submit(lambda: publish_home(deps, user_id), name="publish Home")

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


async def publish_home(deps: Deps, user_id: str, *, notice: str = "") -> None:
    """Show `user_id` their open incidents and every open incident they may see."""
    mine = await run_in_session(my_open_incidents, user_id)
    visible, hidden = await run_in_session(visible_open_incidents, user_id, "")
    view = home_view(mine, visible, hidden=hidden, now=clock.now(), notice=notice)
    await deps.slack.publish_home(user_id, view)
