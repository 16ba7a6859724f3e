"""The real app on loopback wired to a Slack simulator: used by the demo, tests and benches."""

from __future__ import annotations

import secrets
import time
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.config import SAMPLE_PLAYBOOKS as SAMPLE_PLAYBOOKS  # the packaged samples, for tests
from bot.config import SAMPLE_TRIAGE as SAMPLE_TRIAGE
from bot.config import Settings, load_settings
from bot.deps import Deps
from bot.http.runner import ServerThread
from bot.http.server import create_web_app
from bot.simulator.sender import SlackSender
from bot.simulator.simulator import SlackSimulator
from storage.migrate import open_database

BROADCAST = "C0BROADCAST"
# Bolt's one auth.test per process and answers on response_url are not Web API work.
_NOT_WORK = ("auth.test", "response_url")


def local_settings(simulator: SlackSimulator, database_url: str, **overrides: Any) -> Settings:
    """Settings pointing Warroom at the simulator, with a fresh signing secret."""
    values: dict[str, Any] = {
        "slack_bot_token": simulator.token,
        "slack_signing_secret": secrets.token_hex(16),
        "slack_api_url": simulator.base_url,
        "database_url": database_url,
        "warroom_broadcast_channel": BROADCAST,
        "warroom_playbooks_dir": SAMPLE_PLAYBOOKS,
        "warroom_triage_rules": SAMPLE_TRIAGE,
    }
    values.update(overrides)
    return load_settings(**values)


class LocalWarroom:
    """Warroom served on 127.0.0.1 against `simulator`, and a person sending signed requests."""

    def __init__(self, simulator: SlackSimulator, settings: Settings) -> None:
        self.sim = simulator
        self.settings = settings
        open_database(settings.database_url)
        self.deps = Deps.from_settings(settings)
        # the console's address, when set, is where Warroom serves (its sign-in returns there)
        port = urlsplit(settings.warroom_base_url).port if settings.warroom_base_url else None
        self.server = ServerThread(create_web_app(self.deps), name="warroom", port=port or 0)
        self.server.start()
        assert settings.slack_signing_secret is not None
        secret = settings.slack_signing_secret.get_secret_value()
        self.person = SlackSender(f"{self.server.url}/slack/events", secret)

    def command(self, text: str, **options: Any) -> httpx.Response:
        """Send `/incident <text>` (as alice in #general unless told otherwise); return the ack."""
        options.setdefault("response_url", self.sim.response_url(text[:40]))
        return self.person.command(text, **options)

    def fill_form(
        self, values: dict[str, str], *, view: dict[str, Any] | None = None, user: str = "U0ALICE"
    ) -> httpx.Response:
        """Submit `view` (else the modal Warroom opened last), one answer per block (a choice by
        its value)."""
        view = view or self.sim.calls_to("views.open")[-1].args["view"]
        choices = {
            block["block_id"]
            for block in view["blocks"]
            if block.get("element", {}).get("type") in ("radio_buttons", "static_select")
        }
        state = {
            name: {name: {"selected_option": {"value": value}} if name in choices else {"value": value}}
            for name, value in values.items()
        }
        return self.person.view_submission(view, state, user=user)

    def settle(self, timeout: float = 15.0) -> None:
        """Wait until the worker and the job table have done everything queued (each may add
        work for the other, so until both are idle in one look)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if not self.deps.worker.wait_idle(max(left, 0)) or not self.deps.jobs.wait_idle(max(left, 0)):
                raise TimeoutError("the worker or the jobs did not finish")
            if self.deps.worker.pending == 0:
                return

    def slack_calls(self) -> list[str]:
        """Web API methods called so far, in order."""
        return [call.method for call in self.sim.calls if call.method not in _NOT_WORK]

    def stop(self) -> None:
        """Stop the app (the simulator is the caller's)."""
        self.person.close()
        self.server.stop()
