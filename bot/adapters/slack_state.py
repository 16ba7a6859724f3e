"""What Warroom knows about its Slack connection: who it is, whether it still has access, and
how recent calls went. The gateway writes it on every call; health and the edge only read it,
so a probe answers from memory even while Slack hangs."""

from __future__ import annotations

import contextvars
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

log = logging.getLogger(__name__)

# Slack's answers that mean the token no longer works: retrying cannot help.
ACCESS_LOST_ERRORS = frozenset({"invalid_auth", "token_revoked", "account_inactive", "not_authed"})
# Slack's answers that mean Slack itself is in trouble, whatever was asked.
TROUBLE_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# Without a good call for this long, Slack counts as down (the probe fills idle stretches).
STALE_AFTER_SECONDS = 60.0

# When the current Slack call must be over, 429 waits included (time.monotonic()).
call_deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar("call_deadline", default=None)


@dataclass(frozen=True)
class Identity:
    """Who the bot token belongs to, from `auth.test` at start-up."""

    team_id: str
    user_id: str
    bot_id: str | None = None
    enterprise_id: str | None = None
    app_id: str | None = None
    enterprise_install: bool = False

    @classmethod
    def from_auth_test(cls, reply: dict[str, Any]) -> Identity:
        """Read `auth.test`'s answer."""
        return cls(
            team_id=str(reply["team_id"]),
            user_id=str(reply["user_id"]),
            bot_id=reply.get("bot_id") or None,
            enterprise_id=reply.get("enterprise_id") or None,
            app_id=reply.get("app_id") or None,
            enterprise_install=bool(reply.get("is_enterprise_install")),
        )

    def foreign(self, team_id: str | None, enterprise_id: str | None, app_id: str | None) -> str | None:
        """Why a request from this team, enterprise and app is not ours, or None when it is."""
        if app_id and self.app_id and app_id != self.app_id:
            return f"app {app_id}"
        if self.enterprise_install:
            return None if enterprise_id == self.enterprise_id else f"enterprise {enterprise_id}"
        if enterprise_id and self.enterprise_id and enterprise_id != self.enterprise_id:
            return f"enterprise {enterprise_id}"
        if team_id and team_id != self.team_id:
            return f"team {team_id}"
        return None


@dataclass
class SlackState:
    """The connection as recent calls left it."""

    identity: Identity | None = None
    lost_access: str | None = None  # Slack's reason, once the token stopped working
    last_ok: float | None = None
    last_failure: str | None = None
    last_call: float = field(default_factory=time.monotonic)

    def succeeded(self) -> None:
        """A call went through: the token works and Slack answers."""
        now = time.monotonic()
        self.last_ok = self.last_call = now
        self.last_failure = None
        if self.lost_access is not None:
            log.warning("Slack accepts the bot token again; posting and scheduled work resume")
            self.lost_access = None

    def failed(self, reason: str) -> None:
        """A call failed for a reason that says nothing about the request itself."""
        self.last_call = time.monotonic()
        self.last_failure = reason

    def lose_access(self, reason: str) -> None:
        """The token stopped working: stop posting and scheduled work, and say so once."""
        self.last_call = time.monotonic()
        if self.lost_access is None:
            log.error(
                "Slack no longer accepts the bot token (%s): posting and scheduled work stop until "
                "a valid SLACK_BOT_TOKEN is set and Warroom restarts",
                reason,
            )
        self.lost_access = reason

    def problem(self) -> str | None:
        """Why Slack is not usable right now, or None when it is."""
        if self.lost_access is not None:
            return f"Slack access lost: {self.lost_access}"
        if self.identity is None:
            return "Slack identity not known yet (auth.test has not succeeded)"
        if self.last_failure is not None:
            return f"Slack failing: {self.last_failure}"
        if self.last_ok is None or time.monotonic() - self.last_ok > STALE_AFTER_SECONDS:
            return "no successful Slack call in the last minute"
        return None


class RateLimitWithinDeadline(AsyncRateLimitErrorRetryHandler):
    """Waits out HTTP 429 (`Retry-After`) only while the call's deadline still allows it; a wait
    past the deadline fails the call at once instead of sleeping into it."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if response is None or response.status_code != 429:
            return False
        deadline = call_deadline.get()
        return deadline is None or time.monotonic() + retry_after(response) < deadline


def retry_after(response: HttpResponse) -> float:
    """Seconds Slack asked to wait (1 when it did not say)."""
    for name, values in response.headers.items():
        if name.lower() == "retry-after" and values:
            try:
                return float(values[0])
            except ValueError:
                break
    return 1.0
