"""The webhook executor against a real HTTP endpoint on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.adapters.executors import ExecutorPolicy, RefusedTarget, WebhookAction, execute
from bot.http.runner import ServerThread


class Automation:
    """A remediation endpoint that counts its calls and keeps each request's idempotency key."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.keys: list[str | None] = []
        self.bodies: list[Any] = []
        self.app = Starlette(
            routes=[
                Route("/restart", self.restart, methods=["POST"]),
                Route("/redirect", self.redirect, methods=["POST"]),
                Route("/slow", self.slow, methods=["POST"]),
            ]
        )

    async def restart(self, request: Request) -> Response:
        self.calls["restart"] += 1
        self.keys.append(request.headers.get("idempotency-key"))
        self.bodies.append(await request.json())
        return JSONResponse({"restarted": True})

    async def redirect(self, request: Request) -> Response:
        self.calls["redirect"] += 1
        return RedirectResponse("/restart", status_code=302)

    async def slow(self, request: Request) -> Response:
        self.calls["slow"] += 1
        await asyncio.sleep(1.5)
        return JSONResponse({"restarted": True})


@pytest.fixture
def automation() -> Iterator[tuple[Automation, ServerThread]]:
    endpoint = Automation()
    server = ServerThread(endpoint.app, lifespan="off", name="automation")
    server.start()
    yield endpoint, server
    server.stop()


def run(server: ServerThread, path: str, timeout: float = 1.0) -> Any:
    policy = ExecutorPolicy(
        allowed_hosts=frozenset({f"127.0.0.1:{server.port}"}), allow_http_hosts=frozenset({"127.0.0.1"})
    )
    action = WebhookAction(method="POST", url=f"{server.url}{path}", body={"service": "checkout"})
    return asyncio.run(execute(action, {"region": "eu"}, run_id="run-7", policy=policy, timeout=timeout))


def test_a_call_reaches_the_endpoint_once_with_its_idempotency_key(automation: Any) -> None:
    endpoint, server = automation
    execution = run(server, "/restart")
    assert (execution.outcome, execution.detail) == ("succeeded", "HTTP 200 from 127.0.0.1")
    assert execution.excerpt == '{"restarted":true}'
    assert endpoint.calls == Counter(restart=1) and endpoint.keys == ["run-7"]
    assert endpoint.bodies == [{"service": "checkout", "parameters": {"region": "eu"}}]


def test_a_redirect_is_reported_and_not_followed(automation: Any) -> None:
    endpoint, server = automation
    execution = run(server, "/redirect")
    assert execution.outcome == "failed" and "redirect" in execution.detail
    assert endpoint.calls == Counter(redirect=1)


def test_an_endpoint_slower_than_the_timeout_is_timed_out(automation: Any) -> None:
    endpoint, server = automation
    execution = run(server, "/slow", timeout=0.3)
    assert execution.outcome == "timed_out" and execution.duration_ms < 1_000
    assert endpoint.calls == Counter(slow=1)


def test_a_port_outside_the_allowlist_is_refused_before_connecting(automation: Any) -> None:
    endpoint, server = automation
    policy = ExecutorPolicy(
        allowed_hosts=frozenset({"127.0.0.1:1"}), allow_http_hosts=frozenset({"127.0.0.1"})
    )
    action = WebhookAction(method="POST", url=f"{server.url}/restart", body={})
    with pytest.raises(RefusedTarget, match="not in the remediation allowlist"):
        asyncio.run(execute(action, {}, run_id="run-8", policy=policy))
    assert endpoint.calls == Counter()
