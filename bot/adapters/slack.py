"""Slack Web API calls Warroom makes, with Slack's rate limits honoured and errors named."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

import aiohttp
import httpx
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.adapters.slack_state import (
    ACCESS_LOST_ERRORS,
    TROUBLE_ERRORS,
    Identity,
    RateLimitWithinDeadline,
    SlackState,
    call_deadline,
)
from bot.errors import WarroomError

log = logging.getLogger(__name__)
USER_CACHE_SECONDS = 300
# The most one call may take, every 429 wait included: past it the person hears that Slack is slow.
CALL_DEADLINE_SECONDS = 20.0
# The metadata event type marking a message as one of Warroom's effects, found again by its key.
EFFECT_EVENT = "warroom_effect"
# A trigger id lives 3 s; a form that cannot open by then never will.
FORM_DEADLINE_SECONDS = 2.5
LIST_PAGE = 999  # conversations.list takes "an integer under 1000"


class SlackCallFailed(WarroomError):
    """Slack refused a call; the message names the method and Slack's reason."""

    transient = False  # whether a durable job meeting it should try again later

    def __init__(self, method: str, error: str) -> None:
        super().__init__(self.describe(method, error))
        self.method, self.error = method, error

    @staticmethod
    def describe(method: str, error: str) -> str:
        """What the person is told."""
        return f"Slack refused {method}: {error}"


class NameTaken(SlackCallFailed):
    """The channel name is in use (perhaps by an archived channel)."""


class SlackAccessLost(SlackCallFailed):
    """The bot token no longer works (revoked, uninstalled, deactivated): nothing is sent."""

    transient = True  # jobs wait (the dispatcher pauses) until a valid token is back

    @staticmethod
    def describe(method: str, error: str) -> str:
        """What the person is told."""
        return f"Warroom has lost its access to Slack ({error}); an admin must reinstall it."


class SlackTooSlow(SlackCallFailed):
    """Slack did not answer, or asked to wait, past the call's deadline."""

    transient = True

    @staticmethod
    def describe(method: str, error: str) -> str:
        """What the person is told."""
        return f"Slack is too slow right now ({method}: {error}); try again shortly."


class SlackGateway:
    """One Web API client for the whole process; writes are never retried blindly.

    Only HTTP 429 is retried, honouring `Retry-After` within the call's deadline: Slack did not
    perform the call. Every outcome is noted in `state`, which health reads.
    """

    def __init__(self, token: str, base_url: str, *, timeout: int = 10) -> None:
        self.client = AsyncWebClient(
            token=token,
            base_url=base_url,
            timeout=timeout,
            retry_handlers=[RateLimitWithinDeadline(max_retry_count=3)],
        )
        self.calls: Counter[str] = Counter()
        self.state = SlackState()
        self._users: dict[str, tuple[float, dict[str, Any]]] = {}

    async def call(
        self, method: str, *, deadline: float = CALL_DEADLINE_SECONDS, **arguments: Any
    ) -> dict[str, Any]:
        """Call `method`; raise `SlackCallFailed` with Slack's error.

        Through slack_sdk's own wrapper for the method (`users.info` → `users_info`): it picks
        the verb and encoding Slack reads there. Slack reads JSON only on write methods; a
        JSON body on `users.info` or `conversations.history` is ignored, arguments and all.
        """
        if self.state.lost_access is not None and method != "auth.test":
            raise SlackAccessLost(method, self.state.lost_access)
        self.calls[method] += 1
        token = call_deadline.set(time.monotonic() + deadline)
        try:
            async with asyncio.timeout(deadline):
                response = await getattr(self.client, method.replace(".", "_"))(**arguments)
        except SlackApiError as exc:
            raise self._refusal(method, exc) from None
        except (TimeoutError, OSError, aiohttp.ClientError) as exc:
            self.state.failed(f"{method}: {type(exc).__name__}")
            raise SlackTooSlow(method, f"no answer within {deadline:g} s") from None
        finally:
            call_deadline.reset(token)
        self.state.succeeded()
        return dict(response.data) if isinstance(response.data, dict) else {}

    def _refusal(self, method: str, exc: SlackApiError) -> SlackCallFailed:
        """The error for Slack's refusal, noting what it says about the connection."""
        error = str(exc.response.get("error", "unknown_error"))
        if error in ACCESS_LOST_ERRORS:
            self.state.lose_access(error)
            return SlackAccessLost(method, error)
        if exc.response.status_code == 429:
            self.state.failed(f"{method}: rate limited")
            return SlackTooSlow(method, "rate limited for longer than Warroom waits")
        if exc.response.status_code >= 500 or error in TROUBLE_ERRORS:
            self.state.failed(f"{method}: {error}")
        else:
            self.state.succeeded()  # Slack answered: the refusal is about this request
        return (NameTaken if error == "name_taken" else SlackCallFailed)(method, error)

    async def learn_identity(self) -> Identity:
        """Ask `auth.test` who the token belongs to, and remember it."""
        identity = Identity.from_auth_test(await self.call("auth.test", deadline=5.0))
        self.state.identity = identity
        return identity

    async def open_form(self, trigger_id: str, view: dict[str, Any]) -> None:
        """Open a modal while its trigger still lives (3 s); later it fails with a clear message."""
        await self.call("views.open", deadline=FORM_DEADLINE_SECONDS, trigger_id=trigger_id, view=view)

    async def create_channel(self, name: str, *, private: bool) -> str:
        """Create a channel and return its id."""
        response = await self.call("conversations.create", name=name, is_private=private)
        return str(response["channel"]["id"])

    async def channels(self, *, private: bool) -> AsyncGenerator[dict[str, Any], None]:
        """The workspace's unarchived public channels, or the private ones Warroom is in, page by
        page, so that a caller looking for one stops asking once it is found."""
        cursor = None
        while True:
            response = await self.call(
                "conversations.list",
                types="private_channel" if private else "public_channel",
                exclude_archived=True,
                limit=LIST_PAGE,
                cursor=cursor,
            )
            for channel in response.get("channels", []):
                yield dict(channel)
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return

    async def private_rooms(self, user_id: str) -> frozenset[str]:
        """The private channels `user_id` is in that Warroom is in too (users.conversations)."""
        rooms: set[str] = set()
        cursor = None
        while True:
            response = await self.call(
                "users.conversations",
                user=user_id,
                types="private_channel",
                exclude_archived=False,
                limit=LIST_PAGE,
                cursor=cursor,
            )
            rooms.update(str(channel["id"]) for channel in response.get("channels", []))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return frozenset(rooms)

    async def invite(self, channel: str, users: list[str]) -> None:
        """Invite people; someone already in the channel (or Warroom itself) is not an error."""
        try:
            await self.call("conversations.invite", channel=channel, users=",".join(users))
        except SlackCallFailed as exc:
            if exc.error not in ("already_in_channel", "cant_invite_self"):
                raise

    async def set_topic(self, channel: str, topic: str) -> None:
        """Set the channel topic."""
        await self.call("conversations.setTopic", channel=channel, topic=topic)

    async def post(
        self, channel: str, text: str, blocks: list[dict[str, Any]] | None = None, *, key: str | None = None
    ) -> str:
        """Post a message and return its ts; `key` goes into its metadata, so `find_posted` can
        tell later whether a post whose answer was lost (a crash, a timeout) went through."""
        arguments: dict[str, Any] = {"channel": channel, "text": text}
        if blocks:
            arguments["blocks"] = blocks
        if key:
            arguments["metadata"] = {"event_type": EFFECT_EVENT, "event_payload": {"key": key}}
        response = await self.call("chat.postMessage", **arguments)
        return str(response["ts"])

    async def find_posted(self, channel: str, key: str, *, since: float) -> str | None:
        """The ts of Warroom's message in `channel` carrying `key`, posted after `since` (epoch
        seconds), or None: one page of recent history, metadata included."""
        response = await self.call(
            "conversations.history",
            channel=channel,
            oldest=f"{since:.6f}",
            limit=200,
            include_all_metadata=True,
        )
        wanted = {"event_type": EFFECT_EVENT, "event_payload": {"key": key}}
        found = [m for m in response.get("messages", []) if m.get("metadata") == wanted]
        return str(found[0]["ts"]) if found else None

    async def pin(self, channel: str, ts: str) -> None:
        """Pin a message; pinning it again is not an error."""
        try:
            await self.call("pins.add", channel=channel, timestamp=ts)
        except SlackCallFailed as exc:
            if exc.error != "already_pinned":
                raise

    async def bookmark(self, channel: str, title: str, link: str) -> None:
        """Add a link to the channel's bookmarks bar."""
        await self.call("bookmarks.add", channel_id=channel, title=title, type="link", link=link)

    async def bookmarked(self, channel: str) -> list[str]:
        """The links bookmarked in a channel."""
        response = await self.call("bookmarks.list", channel_id=channel)
        return [str(b.get("link") or "") for b in response.get("bookmarks", [])]

    async def update(self, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> None:
        """Replace a message in place."""
        await self.call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    async def archive(self, channel: str) -> None:
        """Archive a channel; one already archived is not an error."""
        try:
            await self.call("conversations.archive", channel=channel)
        except SlackCallFailed as exc:
            if exc.error != "already_archived":
                raise

    async def upload(self, files: dict[str, bytes]) -> list[dict[str, str]]:
        """Send files' bytes (name → bytes) to Slack, not yet shared anywhere; `share` them next.

        The first step of Slack's external upload: a URL per file, then the bytes POSTed there.
        """
        entries = []
        async with httpx.AsyncClient(timeout=30) as http:
            for name, content in files.items():
                slot = await self.call("files.getUploadURLExternal", filename=name, length=len(content))
                sent = await http.post(str(slot["upload_url"]), content=content)
                if sent.status_code != 200:
                    raise SlackCallFailed("file upload", f"HTTP {sent.status_code}")
                entries.append({"id": str(slot["file_id"]), "title": name})
        return entries

    async def share(
        self, uploaded: list[dict[str, str]], channel: str, *, thread_ts: str | None = None
    ) -> None:
        """Finish an upload: show the files in `channel` (in a thread when `thread_ts` is given)."""
        arguments: dict[str, Any] = {"files": uploaded, "channel_id": channel}
        if thread_ts:
            arguments["thread_ts"] = thread_ts
        await self.call("files.completeUploadExternal", **arguments)

    async def publish_home(self, user_id: str, view: dict[str, Any]) -> None:
        """Show `view` on someone's Home tab, replacing what was there."""
        await self.call("views.publish", user_id=user_id, view=view)

    async def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """One message by its ts, or None when it is gone."""
        response = await self.call(
            "conversations.history", channel=channel, latest=ts, inclusive=True, limit=1
        )
        found = [m for m in response.get("messages", []) if m.get("ts") == ts]
        return dict(found[0]) if found else None

    async def permalink(self, channel: str, ts: str) -> str:
        """A link to a message."""
        return str((await self.call("chat.getPermalink", channel=channel, message_ts=ts))["permalink"])

    async def whisper(self, channel: str, user: str, text: str) -> None:
        """A message only `user` sees in `channel`, or a direct message if they are not in it."""
        try:
            await self.call("chat.postEphemeral", channel=channel, user=user, text=text)
        except SlackCallFailed as exc:
            if exc.error not in ("user_not_in_channel", "channel_not_found", "not_in_channel"):
                raise
            await self.post(user, text)

    async def group_members(self, group_id: str) -> list[str]:
        """The people in a user group."""
        return [str(user) for user in (await self.call("usergroups.users.list", usergroup=group_id))["users"]]

    async def user(self, user_id: str) -> dict[str, Any]:
        """`users.info` for someone, cached for a few minutes (guest status rarely changes)."""
        cached = self._users.get(user_id)
        if cached is None or time.monotonic() - cached[0] > USER_CACHE_SECONDS:
            cached = (time.monotonic(), dict((await self.call("users.info", user=user_id))["user"]))
            self._users[user_id] = cached
        return cached[1]

    async def display_name(self, user_id: str) -> str:
        """The name people know someone by."""
        user = await self.user(user_id)
        profile = user.get("profile") or {}
        return str(profile.get("display_name") or user.get("real_name") or user.get("name") or user_id)

    async def respond(self, response_url: str, text: str, blocks: list[dict[str, Any]] | None = None) -> None:
        """Answer the person who asked, ephemerally, through the request's response_url."""
        response = await AsyncWebhookClient(response_url, timeout=10).send(
            text=text, blocks=blocks, response_type="ephemeral", replace_original=False
        )
        if response.status_code != 200:
            log.warning("response_url answered %s", response.status_code)

    async def bot_user_id(self) -> str:
        """Warroom's own user id (from start-up's auth.test, or asked now if that failed)."""
        identity = self.state.identity or await self.learn_identity()
        return identity.user_id
