"""`POST /alerts/alertmanager`, `/alerts/grafana` and `/alerts/webhook`: authenticate as each
sender does, read the alerts into signals, store them durably with the job that processes them,
answer at once.

Alertmanager and Grafana send `Authorization: Bearer <token>` or HTTP basic auth (the token as
the password); the generic webhook signs `<timestamp>.<body>` with HMAC-SHA256. A source with
no secret set answers 404. Nothing is stored for a request refused with 401, 400 or 413.
Identical bodies are one delivery (a sender's retry); each alert is de-duplicated by its key.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable

from pydantic import SecretStr
from starlette.requests import Request
from starlette.responses import Response

from bot.alerts.events import MAX_DEPTH
from bot.alerts.sources import Source, read_group, stored_body
from bot.deps import Deps
from bot.http.deliveries import GroupCommit, answer, read_capped
from bot.http.signing import MAX_SKEW_SECONDS, webhook_signature
from bot.incidents.errors import InvalidInput
from storage.text import load_json

MAX_BODY_BYTES = 1024 * 1024
Route = Callable[[Request], Awaitable[Response]]


def alert_routes(deps: Deps, writer: GroupCommit) -> dict[str, Route]:
    """The handler for each source's path, bound to this process's settings."""
    settings = deps.settings

    def token(value: SecretStr | None) -> list[str]:
        return [value.get_secret_value()] if value is not None else []

    return {
        "/alerts/alertmanager": _route(
            "alertmanager", writer, token(settings.warroom_alertmanager_token), _token_offered
        ),
        "/alerts/grafana": _route("grafana", writer, token(settings.warroom_grafana_token), _token_offered),
        "/alerts/webhook": _route(
            "webhook",
            writer,
            [secret.get_secret_value() for secret in settings.warroom_webhook_secrets],
            _signed,
        ),
    }


def _route(
    source: Source,
    writer: GroupCommit,
    secrets: list[str],
    authentic: Callable[[list[str], Request, bytes], bool],
) -> Route:
    async def receive(request: Request) -> Response:
        if not secrets:
            return answer(404, f"the {source} source is not enabled")
        body = await read_capped(request, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        if not authentic(secrets, request, body):
            return answer(401, "missing or wrong credentials")
        try:
            signals = read_group(source, load_json(body.decode(), max_depth=MAX_DEPTH))
        except UnicodeDecodeError:
            return answer(400, "body is not UTF-8")
        except (ValueError, InvalidInput) as exc:
            return answer(400, f"body is not an alert Warroom can read: {exc}")
        envelope = stored_body(source, signals)
        delivery_id = f"{source}:{hashlib.sha256(body).hexdigest()}"
        if not await writer.store(delivery_id, envelope):
            return answer(200, "duplicate delivery")
        return answer(202, f"accepted {len(signals)} alert{'s' if len(signals) != 1 else ''}")

    return receive


def _token_offered(tokens: list[str], request: Request, body: bytes) -> bool:
    """A bearer token, or basic auth whose password is the token (any user name)."""
    scheme, _, credentials = request.headers.get("authorization", "").strip().partition(" ")
    offered = credentials.strip()
    if scheme.lower() == "basic":
        try:
            offered = base64.b64decode(offered, validate=True).decode().partition(":")[2]
        except (binascii.Error, UnicodeDecodeError):
            return False
    elif scheme.lower() != "bearer":
        return False
    matches = [hmac.compare_digest(offered.encode(), token.encode()) for token in tokens]
    return any(matches)


def _signed(secrets: list[str], request: Request, body: bytes) -> bool:
    """`X-Warroom-Signature: v1=<hex>` over `<X-Warroom-Timestamp>.<body>`, fresh within the
    replay window, under any configured secret (several while rotating)."""
    timestamp = request.headers.get("x-warroom-timestamp", "")
    offered = [s.strip() for s in request.headers.get("x-warroom-signature", "").split(",") if s.strip()]
    if (
        not (timestamp.isascii() and timestamp.isdigit())
        or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS
    ):
        return False
    expected = [webhook_signature(secret, timestamp, body) for secret in secrets]
    matches = [hmac.compare_digest(e, o) for e in expected for o in offered]
    return any(matches)
