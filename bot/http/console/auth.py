"""Who is looking at the console: Sign in with Slack, the signed session cookie it leaves, the
CSRF token of every form, and what the signed-in person may read.

Only people of Warroom's own workspace get in (the id_token's team), and not its guests. The
session is Starlette's signed cookie (HttpOnly, SameSite=Lax, Secure under https), keyed from
the client secret so that every replica reads it, and it ends WARROOM_CONSOLE_SESSION_HOURS
after sign-in whatever the browser keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from bot.adapters.signin import SignInFailed, SlackSignIn
from bot.adapters.slack import SlackCallFailed
from bot.api.queries import EVERYTHING, Reader
from bot.deps import Deps

log = logging.getLogger(__name__)
CALLBACK_PATH = "/auth/callback"
ROOMS_CACHE_SECONDS = 30


@dataclass(frozen=True)
class Viewer:
    """The signed-in person."""

    user_id: str
    name: str
    zone: str
    admin: bool


def session_key(client_secret: str) -> str:
    """The cookie-signing key, derived from the client secret (shared by every replica)."""
    return hmac.new(client_secret.encode(), b"warroom console session", hashlib.sha256).hexdigest()


def local_path(value: str | None) -> str:
    """`value` if it is a path on this site, else the incident list (no open redirects)."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")) and "\n" not in value:
        return value
    return "/incidents"


class Access:
    """Signing in and out, and the reader behind each request."""

    def __init__(self, deps: Deps) -> None:
        settings = deps.settings
        self._deps = deps
        self._lifetime = settings.warroom_console_session_hours * 3600
        self._rooms: dict[str, tuple[float, frozenset[str]]] = {}
        self.client: SlackSignIn | None = None
        if settings.console_sign_in:
            assert settings.slack_client_id and settings.slack_client_secret and settings.warroom_base_url
            self.client = SlackSignIn(
                settings.slack_api_url,
                settings.slack_client_id,
                settings.slack_client_secret.get_secret_value(),
                settings.warroom_base_url + CALLBACK_PATH,
            )

    def viewer(self, request: Request) -> Viewer | None:
        """The signed-in person, or None (never signed in, signed out, or the session ended)."""
        if self.client is None:
            return None
        who: dict[str, Any] | None = request.session.get("viewer")
        if not who or time.time() - float(who.get("at", 0)) > self._lifetime:
            return None
        user_id = str(who["id"])
        return Viewer(
            user_id, str(who["name"]), str(who["zone"]), user_id in self._deps.settings.warroom_admins
        )

    async def reader(self, viewer: Viewer) -> Reader:
        """What `viewer` may read: everything for admins, else the public incidents and the
        private ones they are a member of (their private war rooms asked of Slack, briefly
        cached; if Slack does not answer, the members recorded in the database only)."""
        if viewer.admin:
            return EVERYTHING
        cached = self._rooms.get(viewer.user_id)
        if cached is None or time.monotonic() - cached[0] > ROOMS_CACHE_SECONDS:
            try:
                cached = (time.monotonic(), await self._deps.slack.private_rooms(viewer.user_id))
            except SlackCallFailed as exc:
                log.warning("private war rooms of %s unknown (%s)", viewer.user_id, exc.error)
                return Reader(user_id=viewer.user_id)
            self._rooms[viewer.user_id] = cached
        return Reader(user_id=viewer.user_id, rooms=cached[1])

    def start(self, request: Request) -> Response:
        """Send the browser to Slack's authorize page, remembering state, nonce and where to return."""
        assert self.client is not None
        identity = self._deps.slack.state.identity
        authorization = self.client.authorization(identity.team_id if identity else None)
        request.session["signin"] = {
            "state": authorization.state,
            "nonce": authorization.nonce,
            "next": local_path(request.query_params.get("next")),
        }
        return RedirectResponse(authorization.url, status_code=302)

    async def finish(self, request: Request) -> tuple[str | None, str]:
        """Check Slack's answer and sign the person in: (the reason it failed or None, where next)."""
        assert self.client is not None
        pending: dict[str, str] = request.session.pop("signin", None) or {}
        params = request.query_params
        if not pending or not secrets.compare_digest(pending.get("state", ""), params.get("state", "")):
            return "The sign-in expired or did not start here. Sign in again.", "/"
        if params.get("error"):
            return f"Slack did not sign you in ({params['error']}).", "/"
        try:
            identity = await self.client.identity(params.get("code", ""), pending["nonce"])
        except SignInFailed as exc:
            return str(exc), "/"
        ours = self._deps.slack.state.identity
        if ours is None or identity.team_id != ours.team_id:
            log.warning("console sign-in refused: %s is from another workspace", identity.user_id)
            return "This console is for the members of Warroom's own Slack workspace.", "/"
        try:
            profile = await self._deps.slack.user(identity.user_id)
        except SlackCallFailed as exc:
            return f"Slack could not say who you are ({exc.error}). Try again.", "/"
        if profile.get("is_restricted") or profile.get("is_ultra_restricted") or profile.get("is_bot"):
            return "Guest accounts cannot use the Warroom console.", "/"
        request.session.clear()
        request.session["viewer"] = {
            "id": identity.user_id,
            "name": str((profile.get("profile") or {}).get("display_name") or identity.name),
            "zone": str(profile.get("tz") or "UTC"),
            "at": time.time(),
        }
        request.session["csrf"] = secrets.token_urlsafe(32)
        log.info("console: %s signed in", identity.user_id)
        return None, pending.get("next", "/incidents")


def csrf_token(request: Request) -> str:
    """The token every form of this session carries."""
    token = request.session.get("csrf")
    if not token:
        token = request.session["csrf"] = secrets.token_urlsafe(32)
    return str(token)


async def csrf_ok(request: Request) -> bool:
    """Whether a form post carries this session's token."""
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))  # the forms are urlencoded
    sent, expected = form.get("csrf", ""), str(request.session.get("csrf") or "")
    return bool(expected) and secrets.compare_digest(sent, expected)
