"""`POST /pagerduty/webhook`: verify, store durably with the job that processes it, answer at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from bot.alerts.events import MAX_DEPTH
from bot.deps import Deps
from bot.http.deliveries import GroupCommit, answer, read_capped
from bot.http.signing import is_valid_pagerduty_request
from storage.text import load_json

MAX_BODY_BYTES = 256 * 1024


def webhook_route(deps: Deps, writer: GroupCommit) -> Callable[[Request], Awaitable[Response]]:
    """The route handler, bound to this process's collaborators."""
    secrets = [secret.get_secret_value() for secret in deps.settings.pagerduty_webhook_secrets]

    async def pagerduty_webhook(request: Request) -> Response:
        if not secrets:
            return answer(503, "PAGERDUTY_WEBHOOK_SECRETS is not set")
        body = await read_capped(request, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        if not is_valid_pagerduty_request(secrets, request.headers.get("x-pagerduty-signature"), body):
            return answer(401, "invalid signature")
        delivery_id = request.headers.get("x-webhook-id", "").strip()
        if not delivery_id or len(delivery_id) > 255:
            return answer(400, "missing X-Webhook-Id")
        try:
            text = body.decode()
            parsed = load_json(text, max_depth=MAX_DEPTH)
        except UnicodeDecodeError:
            return answer(400, "body is not UTF-8")
        except ValueError as exc:
            return answer(400, f"body is not JSON a database can keep: {exc}")
        if not isinstance(parsed, dict) or not isinstance(parsed.get("event"), dict):
            return answer(400, "body has no event")
        if not await writer.store(delivery_id, text):
            return answer(200, "duplicate delivery")
        return answer(202, "accepted")

    return pagerduty_webhook
