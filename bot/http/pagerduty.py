"""`POST /pagerduty/webhook`: verify, store durably with the job that processes it, answer at once."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import clock
from bot.alerts.events import MAX_DEPTH
from bot.deps import Deps
from bot.flows.alerts import store_and_record
from bot.http.signing import is_valid_pagerduty_request
from storage.session import run_in_session
from storage.text import load_json

MAX_BODY_BYTES = 256 * 1024


def webhook_route(deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    """The route handler, bound to this process's collaborators."""
    secrets = [secret.get_secret_value() for secret in deps.settings.pagerduty_webhook_secrets]
    writer = GroupCommit(deps.jobs.wake)

    async def pagerduty_webhook(request: Request) -> Response:
        if not secrets:
            return _answer(503, "PAGERDUTY_WEBHOOK_SECRETS is not set")
        if int(request.headers.get("content-length") or 0) > MAX_BODY_BYTES:
            return _answer(413, "body too large")
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return _answer(413, "body too large")
        if not is_valid_pagerduty_request(secrets, request.headers.get("x-pagerduty-signature"), body):
            return _answer(401, "invalid signature")
        delivery_id = request.headers.get("x-webhook-id", "").strip()
        if not delivery_id or len(delivery_id) > 255:
            return _answer(400, "missing X-Webhook-Id")
        try:
            text = body.decode()
            parsed = load_json(text, max_depth=MAX_DEPTH)
        except UnicodeDecodeError:
            return _answer(400, "body is not UTF-8")
        except ValueError as exc:
            return _answer(400, f"body is not JSON a database can keep: {exc}")
        if not isinstance(parsed, dict) or not isinstance(parsed.get("event"), dict):
            return _answer(400, "body has no event")
        if not await writer.store(delivery_id, text):
            return _answer(200, "duplicate delivery")
        return _answer(202, "accepted")

    return pagerduty_webhook


class GroupCommit:
    """Stores deliveries that arrive together in one transaction, with the job that processes
    them, then answers each of them.

    A delivery is still durable before its 2xx; a storm costs one commit per group, not per event.
    """

    def __init__(self, wake: Callable[[], None], most: int = 200) -> None:
        self._wake, self._most = wake, most
        self._waiting: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._writing = False

    async def store(self, delivery_id: str, body: str) -> bool:
        """Store one delivery with whatever else is waiting; False if it was seen before."""
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery_id, body, stored))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        return await stored

    async def _write(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                try:
                    results = await run_in_session(
                        store_and_record, [(d, b) for d, b, _ in group], clock.now()
                    )
                except Exception as exc:
                    for _, _, stored in group:
                        stored.set_exception(exc)
                    continue
                self._wake()
                for (_, _, stored), result in zip(group, results, strict=True):
                    stored.set_result(result)
        finally:
            self._writing = False


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)
