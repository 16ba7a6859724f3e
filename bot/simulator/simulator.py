"""SlackSimulator: a strict fake Slack Web API on 127.0.0.1 for tests and demos."""

import copy
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from bot.http.runner import ServerThread

from .calls import Call
from .seed import GENERAL_ID, seed_channels, seed_users
from .server import build_app
from .workspace import Channel, User, Workspace


class SlackSimulator:
    """A fake Slack workspace served over HTTP; point slack_sdk at `base_url`."""

    def __init__(self, token: str = "xoxb-sim", bot_user_id: str = "U0BOT", team_id: str = "T0TEAM") -> None:
        self._ws = Workspace(token=token, bot_user_id=bot_user_id, team_id=team_id)
        seed_users(self._ws)
        seed_channels(self._ws)
        self._server: ServerThread | None = None

    # Server lifecycle

    def start(self) -> None:
        """Serve on a free port; return once connections are accepted."""
        if self._server is not None:
            raise RuntimeError("the simulator is already running")
        server = ServerThread(build_app(self._ws), lifespan="off", name="slack-simulator")
        with self._ws.lock:
            self._ws.root_url = f"http://127.0.0.1:{server.port}/"
        server.start()
        self._server = server

    def stop(self) -> None:
        """Stop serving (state is kept)."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def token(self) -> str:
        """The bot token the simulator accepts."""
        return self._ws.token

    @property
    def bot_user_id(self) -> str:
        """The bot's own user id."""
        return self._ws.bot_user_id

    @property
    def team_id(self) -> str:
        """The workspace id."""
        return self._ws.team_id

    @property
    def base_url(self) -> str:
        """The Web API base URL, e.g. http://127.0.0.1:54321/api/."""
        return self._root() + "api/"

    def response_url(self, key: str) -> str:
        """A response_url whose posts are recorded as calls to method "response_url"."""
        return f"{self._root()}response/{quote(key, safe='')}"

    def _root(self) -> str:
        if self._server is None:
            raise RuntimeError("start() the simulator first")
        return self._ws.root_url

    # Calls

    @property
    def calls(self) -> list[Call]:
        """Every call answered so far (rejected ones too), in arrival order."""
        with self._ws.lock:
            return self._ws.recorded()

    def calls_to(self, method: str) -> list[Call]:
        """The calls made to one method."""
        return [call for call in self.calls if call.method == method]

    def clear_calls(self) -> None:
        """Forget the calls recorded so far."""
        with self._ws.lock:
            self._ws.calls = []

    # Directory

    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        tz: str = "America/New_York",
        tz_offset: int = -18000,
        is_bot: bool = False,
        is_restricted: bool = False,
        is_ultra_restricted: bool = False,
        email: str | None = None,
        team_id: str | None = None,
    ) -> None:
        """Add (or replace) a user; people get name@example.com unless an email is given."""
        user = User(
            id=user_id,
            name=name,
            real_name=real_name or name.capitalize(),
            team_id=team_id or self._ws.team_id,
            tz=tz,
            tz_offset=tz_offset,
            is_bot=is_bot,
            is_restricted=is_restricted,
            is_ultra_restricted=is_ultra_restricted,
            email=email or (None if is_bot else f"{name}@example.com"),
        )
        with self._ws.lock:
            self._ws.add_user(user, default_channel=GENERAL_ID)

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        """Every user by id, shaped as users.info answers (copies)."""
        with self._ws.lock:
            return {user_id: user.to_api() for user_id, user in self._ws.users.items()}

    def add_usergroup(self, group_id: str, users: Iterable[str]) -> None:
        """Add (or replace) a user group such as S0APPROVERS."""
        with self._ws.lock:
            self._ws.usergroups[group_id] = list(users)

    # Channels and messages

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: Iterable[str] = (),
        is_archived: bool = False,
        creator: str | None = None,
        created: int | None = None,
    ) -> str:
        """Create a channel directly (no call recorded) and return its id; Warroom's bot is its
        creator unless told otherwise, and it was created now unless `created` (epoch seconds)."""
        with self._ws.lock:
            channel = Channel(
                id=channel_id or self._ws.next_id("C"),
                name=name,
                creator=creator or self._ws.bot_user_id,
                is_private=is_private,
                is_archived=is_archived,
                members=list(dict.fromkeys(members)),
            )
            if created is not None:
                channel.created = created
            self._ws.channels[channel.id] = channel
        return channel.id

    def channel(self, channel_id: str) -> dict[str, Any]:
        """A copy of a channel's state; KeyError when unknown."""
        with self._ws.lock:
            return self._ws.channels[channel_id].snapshot()

    def join(self, channel_id: str, user_id: str) -> None:
        """`user_id` joins a channel, as when a member invites them in Slack."""
        with self._ws.lock:
            members = self._ws.channels[channel_id].members
            if user_id not in members:
                members.append(user_id)

    @property
    def channels(self) -> list[dict[str, Any]]:
        """Copies of every channel's state (direct messages left out)."""
        with self._ws.lock:
            return [c.snapshot() for c in self._ws.channels.values() if not c.is_im]

    def channel_by_name(self, name: str) -> dict[str, Any] | None:
        """A copy of the channel with this name, or None."""
        with self._ws.lock:
            found = [c for c in self._ws.channels.values() if c.name == name and not c.is_im]
            return found[0].snapshot() if found else None

    def add_message(
        self,
        channel_id: str,
        text: str,
        *,
        user: str,
        blocks: list[dict[str, Any]] | None = None,
        thread_ts: str | None = None,
    ) -> str:
        """Store a message as if a person had posted it; return its ts."""
        with self._ws.lock:
            channel = self._ws.channels[channel_id]
            message: dict[str, Any] = {
                "type": "message",
                "ts": self._ws.next_ts(),
                "user": user,
                "text": text,
            }
            if blocks is not None:
                message["blocks"] = copy.deepcopy(blocks)
            if thread_ts is not None:
                message["thread_ts"] = thread_ts
            channel.messages.append(message)
            return str(message["ts"])

    # Views, files and triggers

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Every view opened, updated or published, by view id (copies)."""
        with self._ws.lock:
            return copy.deepcopy(self._ws.views)

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for a person, or None."""
        with self._ws.lock:
            view_id = self._ws.homes.get(user_id)
            return copy.deepcopy(self._ws.views[view_id]) if view_id else None

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        """Completed uploads by file id: title, content (bytes), channel_id, filename."""
        with self._ws.lock:
            return copy.deepcopy(self._ws.files)

    def issue_trigger(self) -> str:
        """A trigger id that, like Slack's, works once and expires after 3 seconds."""
        with self._ws.lock:
            return self._ws.triggers.issue()

    def expire_triggers(self, *trigger_ids: str) -> None:
        """Expire the given trigger ids, or every one issued or used so far."""
        with self._ws.lock:
            self._ws.triggers.expire(trigger_ids)

    # Sign in with Slack

    @property
    def client_id(self) -> str:
        """The app's client id for Sign in with Slack."""
        return self._ws.client_id

    @property
    def client_secret(self) -> str:
        """The app's client secret."""
        return self._ws.client_secret

    def add_redirect_url(self, url: str) -> None:
        """Allow `url` (and paths under it) as a Sign in with Slack redirect_uri, as an app's
        settings page does."""
        with self._ws.lock:
            if url not in self._ws.redirect_urls:
                self._ws.redirect_urls.append(url)

    # Faults

    def set_latency(self, seconds: float) -> None:
        """Delay every Web API answer by this many seconds."""
        with self._ws.lock:
            self._ws.latency = seconds

    def fail(self, method: str, error: str = "internal_error", times: int = 1) -> None:
        """Answer the next `times` calls to method with {"ok": false, "error": error}."""
        with self._ws.lock:
            self._ws.faults.fail(method, error, times)

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """Answer the next `times` calls to method with HTTP 429 and Retry-After."""
        with self._ws.lock:
            self._ws.faults.rate_limit(method, retry_after, times)

    def reset(self) -> None:
        """Forget calls, channels, messages, views, files, faults and latency; keep users."""
        with self._ws.lock:
            self._ws.clear()
            seed_channels(self._ws)
