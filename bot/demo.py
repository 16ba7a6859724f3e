"""`warroom demo`: a scripted incident against the built-in Slack simulator."""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bot.cli import open_storage
from bot.config import load_settings
from bot.deps import Deps
from bot.http.runner import BackgroundServer
from bot.http.server import create_web_app
from bot.simulator import SlackSimulator
from bot.simulator.sender import SlackSender

Out = Callable[[str], None]
BROADCAST = "C0BROADCAST"


class DemoSlack:
    """The simulator, the real app on loopback, and a person typing in Slack."""

    def __init__(self, workdir: Path, latency: float) -> None:
        self.simulator = SlackSimulator()
        self.simulator.start()
        self.simulator.set_latency(latency)
        secret = secrets.token_hex(16)
        self.settings = load_settings(
            slack_bot_token=self.simulator.token,
            slack_signing_secret=secret,
            slack_api_url=self.simulator.base_url,
            database_url=f"sqlite:///{workdir / 'demo.db'}",
            warroom_broadcast_channel=BROADCAST,
        )
        open_storage(self.settings)
        self.deps = Deps.from_settings(self.settings)
        self.server = BackgroundServer(create_web_app(self.deps))
        self.server.start()
        self.person = SlackSender(f"{self.server.url}/slack/events", secret)

    def type_command(self, text: str, user: str = "U0ALICE") -> dict[str, Any]:
        """Type `/incident <text>`; return the immediate (ephemeral) answer."""
        response = self.person.command(text, user=user, response_url=self.simulator.response_url(text))
        response.raise_for_status()
        self.deps.worker.wait_idle()
        return dict(response.json()) if response.content else {}

    def close(self) -> None:
        """Stop everything."""
        self.person.close()
        self.server.stop()
        self.simulator.stop()


def run_demo(*, latency: float = 0.0, out: Out = print) -> None:
    """Declare an incident as a person would and print what Slack shows."""
    with tempfile.TemporaryDirectory(prefix="warroom-demo-") as workdir:
        slack = DemoSlack(Path(workdir), latency)
        try:
            _declare(slack, out)
        finally:
            slack.close()


def _declare(slack: DemoSlack, out: Out) -> None:
    command = "declare sev2 Checkout returns 500s"
    out(f"@alice in #general types: /incident {command}\n")
    answer = slack.type_command(command)
    out(f"  (only visible to you) {answer.get('text', '')}")
    for call in slack.simulator.calls_to("response_url"):
        out(f"  (only visible to you) {render(slack, call.args.get('text', ''))}")
    channel = next(c for c in map(slack.simulator.channel, _created(slack)))
    out(f"\n#{channel['name']}  topic: {channel['topic']}")
    members = ", ".join("@" + _name(slack, m) for m in channel["members"] if m != "U0BOT")
    out(f"  members: {members}")
    for message in channel["messages"]:
        pinned = "📌 pinned " if message["ts"] in channel["pins"] else ""
        out(f"  {pinned}@warroom: {render_message(slack, message)}")
    broadcast = slack.simulator.channel(BROADCAST)
    out(f"\n#{broadcast['name']}")
    for message in broadcast["messages"]:
        out(f"  @warroom: {render_message(slack, message)}")
    calls = [c.method for c in slack.simulator.calls if c.method != "response_url"]
    out(f"\nSlack calls made: {', '.join(calls)}")


def _created(slack: DemoSlack) -> list[str]:
    return [c.response["channel"]["id"] for c in slack.simulator.calls_to("conversations.create") if c.ok]


def render_message(slack: DemoSlack, message: dict[str, Any]) -> str:
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


def render(slack: DemoSlack, text: str) -> str:
    """Slack markup as a person reads it: mentions, channel links and dates resolved."""
    text = re.sub(r"<@(U\w+)(\|[^>]*)?>", lambda m: "@" + _name(slack, m.group(1)), text)
    text = re.sub(r"<#(C\w+)(\|[^>]*)?>", lambda m: "#" + slack.simulator.channel(m.group(1))["name"], text)
    text = re.sub(r"<!date\^[^|]*\|([^>]*)>", r"\1", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _name(slack: DemoSlack, user_id: str) -> str:
    user = slack.simulator.users.get(user_id) if hasattr(slack.simulator, "users") else None
    return str(user["name"]) if user else user_id
