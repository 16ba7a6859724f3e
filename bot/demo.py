"""`warroom demo`: a scripted incident against the built-in Slack simulator."""

from __future__ import annotations

import logging
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.simulator import SlackSimulator
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings

Out = Callable[[str], None]


def run_demo(*, latency: float = 0.0, out: Out = print) -> None:
    """Declare an incident as a person would and print what Slack shows."""
    for noisy in ("alembic", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    simulator = SlackSimulator()
    simulator.start()
    simulator.set_latency(latency)
    with tempfile.TemporaryDirectory(prefix="warroom-demo-") as workdir:
        database_url = f"sqlite:///{Path(workdir) / 'demo.db'}"
        slack = LocalWarroom(simulator, local_settings(simulator, database_url))
        try:
            _declare(slack, out)
        finally:
            slack.stop()
            simulator.stop()


def _declare(slack: LocalWarroom, out: Out) -> None:
    command = "declare sev2 Checkout returns 500s"
    out(f"@alice in #general types: /incident {command}\n")
    answer = slack.command(command).json()
    out(f"  (only visible to you) {answer.get('text', '')}")
    slack.settle()
    for call in slack.sim.calls_to("response_url"):
        out(f"  (only visible to you) {render(slack, call.args.get('text', ''))}")
    channel = next(c for c in map(slack.sim.channel, _created(slack)))
    out(f"\n#{channel['name']}  topic: {channel['topic']}")
    members = ", ".join("@" + _name(slack, m) for m in channel["members"] if m != "U0BOT")
    out(f"  members: {members}")
    for message in channel["messages"]:
        pinned = "📌 pinned " if message["ts"] in channel["pins"] else ""
        out(f"  {pinned}@warroom: {render_message(slack, message)}")
    broadcast = slack.sim.channel(BROADCAST)
    out(f"\n#{broadcast['name']}")
    for message in broadcast["messages"]:
        out(f"  @warroom: {render_message(slack, message)}")
    out(f"\nSlack calls made: {', '.join(slack.slack_calls())}")


def _created(slack: LocalWarroom) -> list[str]:
    return [c.response["channel"]["id"] for c in slack.sim.calls_to("conversations.create") if c.ok]


def render_message(slack: LocalWarroom, message: dict[str, Any]) -> str:
    """A message as readable text: its blocks if it has them, else its text."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        if block["type"] == "header":
            parts.append(block["text"]["text"])
        elif block["type"] == "section":
            parts.extend(f["text"].replace("\n", ": ") for f in block.get("fields", []))
            if "text" in block:
                parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e.get("text", "") for e in block["elements"])
    return render(slack, "\n    ".join(parts) if parts else message.get("text", ""))


def render(slack: LocalWarroom, text: str) -> str:
    """Slack markup as a person reads it: mentions, channel links and dates resolved."""
    text = re.sub(r"<@(U\w+)(\|[^>]*)?>", lambda m: "@" + _name(slack, m.group(1)), text)
    text = re.sub(r"<#(C\w+)(\|[^>]*)?>", lambda m: "#" + slack.sim.channel(m.group(1))["name"], text)
    text = re.sub(r"<!date\^[^|]*\|([^>]*)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _name(slack: LocalWarroom, user_id: str) -> str:
    user = slack.sim.users.get(user_id)
    return str(user["name"]) if user else user_id
