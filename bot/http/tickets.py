"""The trackers' webhooks: `POST /tickets/github` (the `issues` event, `X-Hub-Signature-256`)
and `POST /tickets/jira` (`jira:issue_updated`, `X-Hub-Signature`), each signed with its
shared secret (HMAC-SHA256 of the raw body). A closed issue (Jira: its status in the *done*
category) marks its follow-up done, a reopened one opens it again, in one short write with the
job that says so in the war room; a redelivery (same delivery id) changes nothing."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from bot import clock
from bot.deps import Deps
from bot.flows.tickets import STATE
from bot.http.deliveries import answer, read_capped
from bot.jobs import queue
from bot.tickets.service import GITHUB, JIRA, IssueChange, apply_issue_state
from storage.session import run_before_ack
from storage.text import load_json

MAX_BODY_BYTES = 1024 * 1024  # an issue event is a few kB
Route = Callable[[Request], Awaitable[Response]]
Reader = Callable[[Request, dict[str, Any]], IssueChange | None]  # None: nothing to do


def signature(secret: str, body: bytes) -> str:
    """`sha256=<hex>`: the HMAC-SHA256 signature both trackers send of the raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def tracker_routes(deps: Deps) -> dict[str, Route]:
    """Path → handler for each tracker's webhook."""
    settings = deps.settings
    logins = {login.lower(): user for user, login in settings.warroom_github_users.items()}

    def github(request: Request, payload: dict[str, Any]) -> IssueChange | None:
        if request.headers.get("x-github-event") != "issues" or payload.get("action") not in (
            "closed",
            "reopened",
        ):
            return None
        issue, login = payload["issue"], str((payload.get("sender") or {}).get("login") or "someone")
        return IssueChange(
            delivery=request.headers.get("x-github-delivery", ""),
            project=str(payload["repository"]["full_name"]),
            ref=str(int(issue["number"])),
            closed=issue["state"] == "closed",
            changed_at=datetime.fromisoformat(str(issue["updated_at"]).replace("Z", "+00:00")),
            login=login,
            by=logins.get(login.lower()),
        )

    def jira(request: Request, payload: dict[str, Any]) -> IssueChange | None:
        items = (payload.get("changelog") or {}).get("items") or []
        if payload.get("webhookEvent") != "jira:issue_updated" or not any(
            i.get("field") == "status" for i in items
        ):
            return None
        issue = payload["issue"]
        fields = issue["fields"]
        return IssueChange(
            delivery=request.headers.get("x-atlassian-webhook-identifier", ""),
            project=str(fields["project"]["key"]),
            ref=str(issue["key"]),
            closed=fields["status"]["statusCategory"]["key"] == "done",
            changed_at=datetime.fromtimestamp(int(payload["timestamp"]) / 1000, UTC),
            login=str((payload.get("user") or {}).get("displayName") or "someone"),
            by=None,
        )

    return {
        "/tickets/github": _route(
            deps, GITHUB, settings.github_webhook_secret, "x-hub-signature-256", github
        ),
        "/tickets/jira": _route(deps, JIRA, settings.jira_webhook_secret, "x-hub-signature", jira),
    }


def _route(deps: Deps, tracker: str, secret: SecretStr | None, header: str, read: Reader) -> Route:
    key = secret.get_secret_value() if secret else None
    setting = f"{tracker.upper()}_WEBHOOK_SECRET"

    async def webhook(request: Request) -> Response:
        if key is None:
            return answer(404, f"{setting} is not set")
        body = await read_capped(request, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        if not hmac.compare_digest(signature(key, body), request.headers.get(header, "")):
            return answer(401, "invalid signature")
        if request.headers.get("x-github-event") == "ping":
            return answer(200, "pong")
        try:
            payload = load_json(body.decode(), max_depth=32)
        except (UnicodeDecodeError, ValueError):
            return answer(400, "body is not JSON")
        try:
            change = read(request, payload) if isinstance(payload, dict) else None
        except (KeyError, TypeError, ValueError):
            return answer(400, f"not an event {tracker} sends")
        if change is None:
            return answer(202, "nothing to do")
        if not change.delivery or len(change.delivery) > 100:
            return answer(400, "no delivery id")
        if await run_before_ack(_apply, tracker, change):
            deps.jobs.wake()
            return answer(202, "follow-up updated")
        return answer(200, "nothing changed")

    return webhook


def _apply(session: Session, tracker: str, change: IssueChange) -> bool:
    at = clock.now()
    applied = apply_issue_state(session, tracker, change, at=at)
    if applied is None:
        return False
    ticket, _, _ = applied
    payload = {"ticket_id": ticket.id, "login": change.login}
    return queue.record(session, STATE, f"{STATE}:{tracker}:{change.delivery}", payload, at=at)
