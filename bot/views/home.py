"""The App Home tab: a declare button, the person's open incidents, then all they may see."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.views import Blocks
from bot.views.overview import incident_sections
from storage.models import Incident

DECLARE_ACTION = "home.declare"
NONE_OF_MINE = "Nothing open that you declared or hold a role in."


def home_view(
    mine: list[Incident], visible: list[Incident], *, hidden: int, now: datetime, notice: str = ""
) -> dict[str, Any]:
    """The Home tab for one person: a `notice` if any, `mine`, then every open incident they may see."""
    # Each list is at most LIST_MAX sections and an "and N more" line, so two lists and five
    # other blocks stay under Slack's 100 blocks per Home tab.
    notices: Blocks = (
        [{"type": "context", "elements": [{"type": "mrkdwn", "text": notice}]}] if notice else []
    )
    blocks: Blocks = [
        {"type": "actions", "elements": [_declare_button()]},
        *notices,
        _header("Your open incidents"),
        *incident_sections(mine, now=now, empty=NONE_OF_MINE),
        {"type": "divider"},
        _header("All open incidents"),
        *incident_sections(visible, now=now, hidden=hidden),
    ]
    return {"type": "home", "blocks": blocks}


def _declare_button() -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": DECLARE_ACTION,
        "style": "danger",
        "text": {"type": "plain_text", "text": "Declare incident"},
    }


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}
