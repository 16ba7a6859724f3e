"""`POST /tickets/github`: GitHub's `issues` webhook (X-Hub-Signature-256 checked). A closed
issue marks its follow-up done, a reopened one opens it again, in one short write with the job
that says so in the war room; a redelivery (same X-GitHub-Delivery) changes nothing."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import Response

from bot import clock
from bot.deps import Deps
from bot.flows.tickets import STATE
from bot.http.deliveries import answer, read_capped
from bot.jobs import queue
from bot.tickets.service import GITHUB, IssueChange, apply_issue_state
from storage.session import run_before_ack
from storage.text import load_json

MAX_BODY_BYTES = 1024 * 1024  # GitHub caps payloads at 25 MB; an issue event is a few kB
CHANGES = ("closed", "reopened")


def github_signature(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` GitHub sends for this body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def github_route(deps: Deps) -> Callable[[Request], Awaitable[Response]]:
    """The route handler, bound to this process's collaborators."""
    settings = deps.settings
    secret = settings.github_webhook_secret.get_secret_value() if settings.github_webhook_secret else None
    logins = {login.lower(): user for user, login in settings.warroom_github_users.items()}

    async def github_webhook(request: Request) -> Response:
        if secret is None:
            return answer(404, "GITHUB_WEBHOOK_SECRET is not set")
        body = await read_capped(request, MAX_BODY_BYTES)
        if isinstance(body, Response):
            return body
        offered = request.headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(github_signature(secret, body), offered):
            return answer(401, "invalid signature")
        event, delivery = (
            request.headers.get("x-github-event", ""),
            request.headers.get("x-github-delivery", ""),
        )
        if event == "ping":
            return answer(200, "pong")
        if not delivery or len(delivery) > 100:
            return answer(400, "missing X-GitHub-Delivery")
        try:
            payload = load_json(body.decode(), max_depth=32)
        except (UnicodeDecodeError, ValueError):
            return answer(400, "body is not JSON")
        if event != "issues" or not isinstance(payload, dict) or payload.get("action") not in CHANGES:
            return answer(202, "nothing to do")
        try:
            issue, repository = payload["issue"], payload["repository"]
            login = str((payload.get("sender") or {}).get("login") or "someone")
            change = IssueChange(
                delivery=delivery,
                project=str(repository["full_name"]),
                number=int(issue["number"]),
                closed=issue["state"] == "closed",
                changed_at=datetime.fromisoformat(str(issue["updated_at"]).replace("Z", "+00:00")),
                login=login,
                by=logins.get(login.lower()),
            )
        except (KeyError, TypeError, ValueError):
            return answer(400, "not an issues event GitHub sends")
        if await run_before_ack(_apply, change):
            deps.jobs.wake()
            return answer(202, "follow-up updated")
        return answer(200, "nothing changed")

    return github_webhook


def _apply(session: Session, change: IssueChange) -> bool:
    at = clock.now()
    applied = apply_issue_state(session, GITHUB, change, at=at)
    if applied is None:
        return False
    ticket, _, _ = applied
    payload = {"ticket_id": ticket.id, "login": change.login}
    return queue.record(session, STATE, f"{STATE}:{change.delivery}", payload, at=at)
