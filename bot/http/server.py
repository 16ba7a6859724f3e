"""The ASGI app served by `warroom serve`: Slack events, alert webhooks, health, metrics, the
HTTP API and the web console."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Mount, Route

from bot import scheduler as schedules
from bot.app import build_app
from bot.deps import Deps
from bot.flows.rules import RuleRunner
from bot.flows.runs import recover_interrupted_runs
from bot.flows.webhooks import Sender
from bot.http.alerts import alert_routes
from bot.http.api import create_api
from bot.http.bolt import dispatch
from bot.http.console import console_routes
from bot.http.deliveries import GroupCommit
from bot.http.health import HealthMonitor
from bot.http.metrics import Metrics
from bot.http.pagerduty import webhook_route
from bot.http.signing import is_valid_slack_request
from bot.http.slack_body import MAX_BODY_BYTES, Problem, read_slack_body
from bot.http.tickets import tracker_routes

log = logging.getLogger(__name__)


async def stop_work(deps: Deps) -> None:
    """Stop claiming, and give the jobs and forms under way WARROOM_SHUTDOWN_GRACE_SECONDS to
    finish: a job still running then is given back for another replica, a form is dropped."""
    grace = deps.settings.warroom_shutdown_grace_seconds

    async def forms() -> None:
        try:
            await asyncio.wait_for(deps.worker.drain(), grace)
        except TimeoutError:
            log.warning("stopped with forms still opening after %s s", grace)

    await asyncio.gather(deps.jobs.stop(grace=grace), forms())


class TimelineReaders:
    """What follows the timeline as it grows: the outgoing webhooks and the rules."""

    def __init__(self, deps: Deps) -> None:
        self._readers = (Sender(deps), RuleRunner(deps))

    def start(self) -> None:
        """Begin on the running loop."""
        for reader in self._readers:
            reader.start()

    async def stop(self) -> None:
        """Stop after the work under way."""
        await asyncio.gather(*(reader.stop() for reader in self._readers))


def create_web_app(deps: Deps) -> Starlette:
    """Starlette routes around the Bolt app; storage must already be configured."""
    deps.settings.require("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN")
    secret = deps.settings.slack_signing_secret
    assert secret is not None
    app = build_app(deps)
    schedules.register(deps)

    async def slack_events(request: Request) -> Response:
        headers = request.headers
        if int(headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return PlainTextResponse("body too large", status_code=413)
        body = await request.body()
        if not is_valid_slack_request(
            secret.get_secret_value(),
            headers.get("x-slack-request-timestamp"),
            headers.get("x-slack-signature"),
            body,
            now=time.time(),
        ):
            return PlainTextResponse("invalid signature", status_code=401)
        slack_request = read_slack_body(body, headers.get("content-type"))
        if isinstance(slack_request, Problem):
            return PlainTextResponse(slack_request.reason, status_code=slack_request.status)
        return await dispatch(app, request, slack_request)

    state: dict[str, AsyncIOScheduler] = {}
    readers = TimelineReaders(deps)
    health = HealthMonitor(
        deps.slack, deps.settings.database_url, lambda: "scheduler" in state and state["scheduler"].running
    )

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await health.start()  # auth.test, bounded: no request waits on it later
        deps.jobs.start()
        readers.start()
        deps.worker.submit(lambda: recover_interrupted_runs(deps), name="recover remediation runs")
        scheduler = schedules.start_scheduler(deps)
        state["scheduler"] = scheduler
        yield
        scheduler.shutdown(wait=False)
        await health.stop()
        await readers.stop()
        await stop_work(deps)

    metrics = Metrics(deps)
    writer = GroupCommit(deps.jobs.wake)
    routes = [
        Route("/slack/events", slack_events, methods=["POST"]),
        Route("/healthz", health.liveness, methods=["GET"]),
        Route("/readyz", health.readiness, methods=["GET"]),
        Route("/pagerduty/webhook", webhook_route(deps, writer), methods=["POST"]),
        *(Route(path, route, methods=["POST"]) for path, route in tracker_routes(deps).items()),
        *(Route(path, route, methods=["POST"]) for path, route in alert_routes(deps, writer).items()),
        Route("/metrics", metrics.scrape, methods=["GET"]),
        Mount("/api/v1", app=create_api(deps)),
        *console_routes(deps),
    ]
    return Starlette(routes=routes, middleware=[metrics.middleware(routes)], lifespan=lifespan)
