"""`POST /pagerduty/webhook`: verify, store durably, answer at once, process after."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import clock
from bot.alerts.service import store_delivery
from bot.deps import Deps
from bot.http.signing import is_valid_pagerduty_request
from bot.slack.alerts import process_deliveries
from storage.session import run_in_session

MAX_BODY_BYTES = 256 * 1024


def webhook_route(deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    """The route handler, bound to this process's collaborators."""
    secrets = [secret.get_secret_value() for secret in deps.settings.pagerduty_webhook_secrets]

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
            parsed = json.loads(body)
        except ValueError:
            return _answer(400, "body is not JSON")
        if not isinstance(parsed, dict) or not isinstance(parsed.get("event"), dict):
            return _answer(400, "body has no event")
        # off the event loop: a batch being processed may hold the database for a moment
        stored = await run_in_session(store_delivery, delivery_id, body.decode(errors="replace"), clock.now())
        if not stored:
            return _answer(200, "duplicate delivery")
        deps.worker.submit(lambda: process_deliveries(deps), name="pagerduty webhooks", once=True)
        return _answer(202, "accepted")

    return pagerduty_webhook


def _answer(status: int, message: str) -> Response:
    return JSONResponse({"message": message}, status_code=status)
