"""`GET /healthz` (alive: the process and its database) and `GET /readyz` (ready to serve).

Both answer from state a background monitor keeps, never by calling Slack or waiting on the
database inside the probe: a load balancer's probe must answer in milliseconds even while Slack
hangs or rate-limits `auth.test`, and must not add to the rate limit itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.adapters.slack import SlackCallFailed, SlackGateway
from storage import migrate
from storage.session import get_engine

log = logging.getLogger(__name__)

DATABASE_EVERY_SECONDS = 5.0
DATABASE_TIMEOUT_SECONDS = 3.0
# An idle process still learns within a minute that Slack stopped answering.
SLACK_PROBE_IDLE_SECONDS = 30.0


@dataclass
class HealthState:
    """What the probes read."""

    database: str | None = "not checked yet"  # None when reachable, else why not
    schema: str | None = None  # None when at the code's migration head


class HealthMonitor:
    """Checks the database every few seconds and Slack when no call has shown it lately."""

    def __init__(self, slack: SlackGateway, database_url: str, scheduler_running: Callable[[], bool]) -> None:
        self.slack = slack
        self.head = migrate.head_revision(database_url)
        self.scheduler_running = scheduler_running
        self.state = HealthState()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Check once now (bounded), then keep checking in the background."""
        await self.check_database()
        await self.probe_slack()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop checking."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(DATABASE_EVERY_SECONDS)
            await self.check_database()
            if time.monotonic() - self.slack.state.last_call > SLACK_PROBE_IDLE_SECONDS:
                await self.probe_slack()

    async def check_database(self) -> None:
        """Whether the database answers, and whether its schema is the one this code expects."""
        try:
            self.state.schema = await asyncio.wait_for(
                asyncio.to_thread(self._schema_problem), DATABASE_TIMEOUT_SECONDS
            )
            self.state.database = None
        except Exception as exc:  # any failure means "down"; the reason goes to the probe's answer
            reason = "no answer" if isinstance(exc, TimeoutError) else type(exc).__name__
            if self.state.database is None:
                log.warning("the database stopped answering health checks: %s", reason)
            self.state.database = reason

    def _schema_problem(self) -> str | None:
        current = migrate.current_revision(get_engine())  # a query: proves the database answers
        return None if current == self.head else f"database at {current}, code expects {self.head}"

    async def probe_slack(self) -> None:
        """One `auth.test`: learns the identity if start-up could not, notes Slack's health."""
        try:
            await self.slack.learn_identity()
        except SlackCallFailed as exc:
            log.info("Slack probe failed: %s", exc.error)

    def liveness(self, _: Request) -> Response:
        """200 while the process runs and its database answers."""
        checks = {"process": "ok", "database": self.state.database or "ok"}
        return _answer(checks)

    def readiness(self, _: Request) -> Response:
        """200 when requests can be carried out: database at head, Slack usable, scheduler running."""
        checks = {
            "database": self.state.database or self.state.schema or "ok",
            "slack": self.slack.state.problem() or "ok",
            "scheduler": "ok" if self.scheduler_running() else "not running",
        }
        return _answer(checks)


def _answer(checks: dict[str, str]) -> Response:
    healthy = all(value == "ok" for value in checks.values())
    return JSONResponse({"ok": healthy, **checks}, status_code=200 if healthy else 503)
