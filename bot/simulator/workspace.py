"""The simulated workspace: people, channels, messages, views, files, sign-ins and call log."""

import copy
import threading
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from .calls import Call
from .faults import Faults
from .spec import ApiError
from .triggers import Triggers

TZ_LABELS = {
    "America/New_York": "Eastern Standard Time",
    "America/Los_Angeles": "Pacific Standard Time",
    "Europe/London": "Greenwich Mean Time",
    "Europe/Berlin": "Central European Time",
    "Asia/Tokyo": "Japan Standard Time",
}


@dataclass
class User:
    """A member of the workspace as users.info describes them."""

    id: str
    name: str
    real_name: str
    team_id: str
    tz: str = "America/New_York"
    tz_offset: int = -18000
    is_bot: bool = False
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    email: str | None = None

    def to_api(self) -> dict[str, Any]:
        """The users.info `user` object."""
        profile = {"real_name": self.real_name, "display_name": self.name, "email": self.email}
        body = asdict(self) | {"deleted": False, "tz_label": TZ_LABELS.get(self.tz, self.tz)}
        body["profile"] = {key: value for key, value in profile.items() if value is not None}
        del body["email"]
        return body


@dataclass
class Channel:
    """A conversation and everything in it."""

    id: str
    name: str
    creator: str
    is_private: bool = False
    is_archived: bool = False
    is_general: bool = False
    is_im: bool = False
    members: list[str] = field(default_factory=list)
    topic: str = ""
    purpose: str = ""
    topic_last_set: int = 0
    purpose_last_set: int = 0
    pins: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    created: int = field(default_factory=lambda: int(time.time()))

    def snapshot(self) -> dict[str, Any]:
        """A deep copy of the channel's state for tests to inspect."""
        return copy.deepcopy(asdict(self))

    def find(self, ts: str) -> dict[str, Any] | None:
        """The stored message with this ts, replies included."""
        return next((m for m in self.messages if m["ts"] == ts), None)

    def to_api(self, bot_user_id: str, *, num_members: bool = False) -> dict[str, Any]:
        """The conversation object the conversations.* methods answer with."""
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_private": self.is_private or self.is_im,
            "is_archived": self.is_archived,
            "is_general": self.is_general,
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "creator": self.creator,
            "topic": _text_field(self.topic, self.topic_last_set, bot_user_id),
            "purpose": _text_field(self.purpose, self.purpose_last_set, bot_user_id),
        }
        if num_members:
            body["num_members"] = len(self.members)
        return body


@dataclass(frozen=True)
class Team:
    """A Slack workspace as Sign in with Slack names it."""

    id: str
    name: str
    domain: str


@dataclass(frozen=True)
class Grant:
    """What a person allowed the app on the sign-in page: who, which scopes, where to send them,
    the nonce and PKCE challenge to bind, and when (epoch seconds). An authorization code and
    the user token it is exchanged for both stand for one."""

    user: User
    team: Team
    scopes: frozenset[str]
    redirect_uri: str
    nonce: str | None
    challenge: tuple[str, str] | None  # (code_challenge_method, code_challenge)
    at: float


def _text_field(value: str, last_set: int, bot_user_id: str) -> dict[str, Any]:
    # Only the bot sets topics and purposes in the simulator.
    return {"value": value, "creator": bot_user_id if value else "", "last_set": last_set}


class Workspace:
    """All simulated state; hold `lock` while reading or changing anything here."""

    def __init__(self, *, token: str, bot_user_id: str, team_id: str) -> None:
        self.lock = threading.Lock()
        self.token = token
        self.bot_user_id = bot_user_id
        self.bot_id = "B" + bot_user_id[1:]
        self.app_id = "A0WARROOM"  # what SlackSender puts in api_app_id
        self.team_id = team_id
        self.team = Team(team_id, "Example", "example")  # as auth.test names it
        self.root_url = ""
        self.users: dict[str, User] = {}
        self.usergroups: dict[str, list[str]] = {}
        # People of other workspaces: they can sign in with Slack, but the bot token cannot
        # see them (users.info answers user_not_found), as with a real foreign workspace.
        self.outsiders: dict[str, User] = {}
        self.other_teams: dict[str, Team] = {}
        # The app's credentials and the Redirect URLs set on its OAuth & Permissions page.
        self.client_id = "1111111111.2222222222"
        self.client_secret = "sim-client-secret"
        self.redirect_urls: list[str] = []
        self.signing_key: RSAPrivateKey | None = None  # made on first use (signin.signing_key)
        self.clear()

    def clear(self) -> None:
        """Forget everything except the directory (users, user groups, outsiders) and the app's
        settings; codes and tokens from sign-ins go too."""
        self.channels: dict[str, Channel] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.homes: dict[str, str] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.uploads: dict[str, dict[str, Any]] = {}
        self.triggers = Triggers()
        self.faults = Faults()
        self.latency = 0.0
        self.calls: list[list[Call]] = []
        self.codes: dict[str, Grant] = {}
        self.user_tokens: dict[str, Grant] = {}
        self._counters: dict[str, int] = {}
        self._last_ts_us = 0

    def next_id(self, prefix: str, width: int = 8) -> str:
        """A fresh id such as C00000001 (a counter per prefix keeps runs repeatable)."""
        count = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = count
        return f"{prefix}{count:0{width}d}"

    def next_ts(self) -> str:
        """A message ts from the wall clock, strictly increasing even within a microsecond."""
        self._last_ts_us = max(int(time.time() * 1_000_000), self._last_ts_us + 1)
        seconds, micros = divmod(self._last_ts_us, 1_000_000)
        return f"{seconds}.{micros:06d}"

    def channel(self, channel_id: str) -> Channel:
        """The channel with this id, or channel_not_found."""
        found = self.channels.get(channel_id)
        if found is None:
            raise ApiError("channel_not_found", f"[ERROR] no channel with id '{channel_id}'")
        return found

    def user(self, user_id: str) -> User:
        """The user with this id, or user_not_found."""
        found = self.users.get(user_id)
        if found is None:
            raise ApiError("user_not_found", f"[ERROR] no user with id '{user_id}'")
        return found

    def add_user(self, user: User, *, default_channel: str) -> None:
        """Add or replace a user; people also join the default channel, as in Slack."""
        self.users[user.id] = user
        channel = self.channels.get(default_channel)
        if channel is not None and not user.is_bot and user.id not in channel.members:
            channel.members.append(user.id)

    def direct(self, user_id: str) -> Channel:
        """The bot's direct-message conversation with a person, opened on first use."""
        channel_id = "D" + user_id[1:]
        if channel_id not in self.channels:
            self.channels[channel_id] = Channel(
                id=channel_id,
                name=user_id,
                creator=self.bot_user_id,
                is_im=True,
                members=[self.bot_user_id, user_id],
            )
        return self.channels[channel_id]

    def begin_call(self) -> tuple[list[Call], float]:
        """Reserve the call's place in arrival order; return it with the latency to apply."""
        # The caller fills the slot when it answers; a reset in between orphans it.
        slot: list[Call] = []
        self.calls.append(slot)
        return slot, self.latency

    def recorded(self) -> list[Call]:
        """Calls answered so far, in arrival order."""
        return [slot[0] for slot in self.calls if slot]
