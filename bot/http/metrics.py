"""`GET /metrics`: Prometheus text for one web app: requests, ack latency, Slack calls, incidents, jobs."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.adapters.slack import SlackGateway
from bot.deps import Deps
from bot.incidents.rules import Status
from bot.jobs import queue
from storage.models import Incident
from storage.session import session_scope

log = logging.getLogger(__name__)

# The classic text format; newer prometheus-client names 1.0.0 CONTENT_TYPE_LATEST, older 0.0.4.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Slack drops a request not answered within 3 s; the buckets show how close acks come.
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0)
OTHER_ROUTE = "other"


class Metrics:
    """One web app's registry (never the process-wide default: tests build several apps)."""

    def __init__(self, deps: Deps) -> None:
        self.registry = CollectorRegistry()
        self._requests = Counter(
            "warroom_http_requests",
            "HTTP requests answered, by matched route and status.",
            ["route", "status"],
            registry=self.registry,
        )
        self._children: dict[tuple[str, int], Counter] = {}
        self._acks = {
            "/slack/events": _ack_histogram("warroom_slack_ack_seconds", "POST /slack/events", self.registry),
            "/pagerduty/webhook": _ack_histogram(
                "warroom_webhook_ack_seconds", "POST /pagerduty/webhook", self.registry
            ),
        }
        here = Gauge("warroom_jobs_running_here", "Jobs this process is running now.", registry=self.registry)
        here.set_function(lambda: deps.jobs.active)
        self.registry.register(SlackCallsCollector(deps.slack))
        self.registry.register(incidents_collector())
        self.registry.register(jobs_collector())

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one answered request; time it when it is a Slack or PagerDuty POST."""
        counter = self._children.get((route, status))
        if counter is None:  # labels() costs three times an inc(); a few routes times statuses
            counter = self._children[route, status] = self._requests.labels(route, str(status))
        counter.inc()
        histogram = self._acks.get(route) if method == "POST" else None
        if histogram is not None:
            histogram.observe(seconds)

    async def scrape(self, _: Request) -> Response:
        """The exposition; built on a thread because the incident gauge queries the database."""
        body = await asyncio.to_thread(generate_latest, self.registry)
        return Response(body, headers={"content-type": CONTENT_TYPE})

    def middleware(self, routes: Iterable[BaseRoute]) -> Middleware:
        """Timing for every request to an app with `routes`."""
        paths = frozenset(route.path for route in routes if isinstance(route, Route))
        return Middleware(TimedRequests, metrics=self, paths=paths)


def _ack_histogram(name: str, endpoint: str, registry: CollectorRegistry) -> Histogram:
    return Histogram(name, f"Seconds to answer {endpoint}.", buckets=ACK_BUCKETS, registry=registry)


class TimedRequests:
    """Pure ASGI middleware: one clock read each side and a counter, nothing on the body."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics, paths: frozenset[str]) -> None:
        self.app, self.metrics, self.paths = app, metrics, paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the server answers when the app raises before starting a response

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            # The route path, never the raw URL: a scan of random paths must not add series.
            # Our routes have no path parameters, so the path itself names the route.
            path = scope["path"]
            route = path if path in self.paths else OTHER_ROUTE
            self.metrics.record(route, scope["method"], status, time.perf_counter() - started)


class SlackCallsCollector(Collector):
    """`warroom_slack_api_calls_total{method}` from the gateway's own call counter."""

    def __init__(self, slack: SlackGateway) -> None:
        self._slack = slack

    def collect(self) -> Iterator[Metric]:
        """One sample per Web API method called so far."""
        family = CounterMetricFamily(
            "warroom_slack_api_calls", "Slack Web API calls made, by method.", labels=["method"]
        )
        # dict() of a Counter copies in C under the GIL, so the loop cannot change it mid-read.
        for method, count in sorted(dict(self._slack.calls).items()):
            family.add_metric([method], count)
        yield family


class CountsCollector(Collector):
    """A gauge with one sample per state, counted in the database at scrape time."""

    def __init__(self, name: str, documentation: str, label: str, states: Iterable[str], column: Any) -> None:
        self._name, self._documentation, self._label = name, documentation, label
        self._states, self._column = tuple(states), column

    def collect(self) -> Iterator[Metric]:
        """One sample per state, zero for a state no row has."""
        try:
            with session_scope() as session:
                counts = dict(
                    session.execute(select(self._column, func.count()).group_by(self._column)).all()
                )
        except SQLAlchemyError:
            # The other metrics matter most exactly when the database is down; /healthz says why.
            log.exception("could not count %s for /metrics", self._name)
            return
        family = GaugeMetricFamily(self._name, self._documentation, labels=[self._label])
        for state in self._states:
            family.add_metric([state], counts.get(state, 0))
        yield family


def incidents_collector() -> CountsCollector:
    """`warroom_incidents{status}`."""
    statuses = (status.value for status in Status)
    return CountsCollector(
        "warroom_incidents", "Incidents by status.", "status", statuses, col(Incident.status)
    )


def jobs_collector() -> CountsCollector:
    """`warroom_jobs{state}`: the job table across every replica (done ones are not counted)."""
    states = (queue.QUEUED, queue.RUNNING, queue.FAILED)
    return CountsCollector(
        "warroom_jobs",
        "Jobs in the job table by state, across replicas.",
        "state",
        states,
        queue.JOBS.c.state,
    )
