"""conversations.*: create, invite, topic, purpose, archive, info, join, history, list; and
users.conversations, which lists like conversations.list."""

import base64
import binascii
import copy
import re
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from .args import Args, flag, id_list, integer, text
from .spec import ApiError
from .workspace import Channel, Workspace

CHANNEL_NAME = re.compile(r"^[a-z0-9_-]+$")
MAX_NAME = 80
MAX_TOPIC = 250
MAX_HISTORY_LIMIT = 999
MAX_LIST_LIMIT = 999  # Slack: "an integer under 1000"
MAX_USER_LIST_LIMIT = 1000  # users.conversations: "an integer no larger than 1000"
LIST_TYPES = frozenset({"public_channel", "private_channel", "mpim", "im"})


def create(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.create: a new channel with the bot as creator and only member."""
    name = text(args, "name")
    _check_name(ws, name)
    channel = Channel(
        id=ws.next_id("C"),
        name=name,
        creator=ws.bot_user_id,
        is_private=flag(args, "is_private"),
        members=[ws.bot_user_id],
    )
    ws.channels[channel.id] = channel
    return {"ok": True, "channel": channel.to_api(ws.bot_user_id)}


def _check_name(ws: Workspace, name: str) -> None:
    if not name:
        raise ApiError("invalid_name_required")
    if len(name) > MAX_NAME:
        raise ApiError("invalid_name_maxlength", f"[ERROR] name is over {MAX_NAME} characters")
    if not CHANNEL_NAME.match(name):
        raise ApiError(
            "invalid_name_specials",
            "[ERROR] use only lowercase letters, digits, hyphens and underscores",
        )
    if not name.strip("-_"):
        raise ApiError("invalid_name_punctuation", "[ERROR] name is only punctuation")
    # Archived channels keep their names, so they still count.
    if any(ch.name == name and not ch.is_im for ch in ws.channels.values()):
        raise ApiError("name_taken", f"[ERROR] a channel named '{name}' exists")


def invite(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.invite: add people; all of them already in is already_in_channel."""
    channel = writable(ws, text(args, "channel"))
    new, errors = _invitees(ws, channel, id_list(args, "users"), force=flag(args, "force"))
    if not new and not errors:
        raise ApiError("already_in_channel")
    channel.members.extend(new)
    reply: dict[str, Any] = {"ok": True, "channel": channel.to_api(ws.bot_user_id)}
    if errors:
        reply["errors"] = errors
    return reply


def _invitees(
    ws: Workspace, channel: Channel, user_ids: list[str], *, force: bool
) -> tuple[list[str], list[dict[str, Any]]]:
    if not user_ids:
        raise ApiError("no_user")
    new: list[str] = []
    errors: list[dict[str, Any]] = []
    for user_id in dict.fromkeys(user_ids):
        error = _invite_error(ws, user_id)
        # With force=true Slack invites the valid users and lists the rest as errors.
        if error and not force:
            raise ApiError(error, f"[ERROR] cannot invite '{user_id}'")
        if error:
            errors.append({"user": user_id, "ok": False, "error": error})
        elif user_id not in channel.members:
            new.append(user_id)
    return new, errors


def _invite_error(ws: Workspace, user_id: str) -> str | None:
    if user_id == ws.bot_user_id:
        return "cant_invite_self"
    if user_id not in ws.users:
        return "user_not_found"
    return None


def writable(ws: Workspace, channel_id: str) -> Channel:
    """A channel the bot may change: it exists, is not archived, and the bot is in it."""
    channel = ws.channel(channel_id)
    if channel.is_archived:
        raise ApiError("is_archived")
    if ws.bot_user_id not in channel.members:
        raise ApiError("not_in_channel", f"[ERROR] the bot is not a member of {channel_id}")
    return channel


def set_topic(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.setTopic."""
    channel = writable(ws, text(args, "channel"))
    channel.topic = _short_text(args, "topic")
    channel.topic_last_set = int(time.time())
    return {"ok": True, "channel": channel.to_api(ws.bot_user_id)}


def set_purpose(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.setPurpose."""
    channel = writable(ws, text(args, "channel"))
    channel.purpose = _short_text(args, "purpose")
    channel.purpose_last_set = int(time.time())
    return {"ok": True, "channel": channel.to_api(ws.bot_user_id)}


def _short_text(args: Args, key: str) -> str:
    value = text(args, key)
    if len(value) > MAX_TOPIC:
        raise ApiError("too_long", f"[ERROR] {key} is over {MAX_TOPIC} characters")
    return value


def archive(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.archive."""
    channel = ws.channel(text(args, "channel"))
    if channel.is_archived:
        raise ApiError("already_archived")
    if channel.is_general:
        raise ApiError("cant_archive_general")
    if ws.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    channel.is_archived = True
    return {"ok": True}


def info(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.info."""
    channel = ws.channel(text(args, "channel"))
    counted = flag(args, "include_num_members")
    return {"ok": True, "channel": channel.to_api(ws.bot_user_id, num_members=counted)}


def join(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.join: public channels only."""
    channel = ws.channel(text(args, "channel"))
    if channel.is_archived:
        raise ApiError("is_archived")
    if channel.is_private or channel.is_im:
        raise ApiError("method_not_supported_for_channel_type")
    reply: dict[str, Any] = {"ok": True}
    if ws.bot_user_id in channel.members:
        reply["warning"] = "already_in_channel"
    else:
        channel.members.append(ws.bot_user_id)
    reply["channel"] = channel.to_api(ws.bot_user_id)
    return reply


def history(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.history: top-level messages, newest first, paged by cursor."""
    channel = ws.channel(text(args, "channel"))
    if ws.bot_user_id not in channel.members:
        raise ApiError("not_in_channel")
    limit = integer(args, "limit", 100)
    limit = 100 if limit < 1 else min(limit, MAX_HISTORY_LIMIT)
    start = _cursor_offset(text(args, "cursor"))
    visible = [m for m in reversed(channel.messages) if _in_history(m, args)]
    page = copy.deepcopy(visible[start : start + limit])
    if not flag(args, "include_all_metadata"):  # Slack shows metadata only when asked
        for message in page:
            message.pop("metadata", None)
    more = len(visible) > start + limit
    cursor = _cursor(start + limit) if more else ""
    return {
        "ok": True,
        "messages": page,
        "has_more": more,
        "pin_count": len(channel.pins),
        "response_metadata": {"next_cursor": cursor},
    }


def list_conversations(ws: Workspace, args: Args) -> dict[str, Any]:
    """conversations.list: public channels by default, private ones only where the bot is a
    member (Slack shows a token only those), oldest first, paged by cursor."""
    wanted = _list_types(args)
    limit = integer(args, "limit", 100)
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise ApiError("invalid_limit", f"[ERROR] limit must be 1 to {MAX_LIST_LIMIT}")
    return _listing(ws, _visible(ws, wanted, args), args, limit)


def user_conversations(ws: Workspace, args: Args) -> dict[str, Any]:
    """users.conversations: what `user` (else the bot) is a member of, of what the bot can see,
    oldest first, paged by cursor; an out-of-range limit is served as the default or the cap."""
    user_id = text(args, "user") or ws.bot_user_id
    ws.user(user_id)  # user_not_found for anyone outside the workspace
    wanted = _list_types(args)
    limit = integer(args, "limit", 100)
    limit = 100 if limit < 1 else min(limit, MAX_USER_LIST_LIMIT)
    mine = [channel for channel in _visible(ws, wanted, args) if user_id in channel.members]
    return _listing(ws, mine, args, limit)


def _list_types(args: Args) -> set[str]:
    wanted = set(id_list(args, "types") or ["public_channel"])
    if wanted - LIST_TYPES:
        raise ApiError("invalid_types", "[ERROR] types are public_channel, private_channel, mpim, im")
    return wanted


def _visible(ws: Workspace, wanted: set[str], args: Args) -> list[Channel]:
    return [
        channel
        for channel in ws.channels.values()
        if _list_type(channel) in wanted
        and (not channel.is_private or ws.bot_user_id in channel.members)
        and not (channel.is_archived and flag(args, "exclude_archived"))
    ]


def _listing(ws: Workspace, listed: list[Channel], args: Args, limit: int) -> dict[str, Any]:
    start = _cursor_offset(text(args, "cursor"))
    more = len(listed) > start + limit
    return {
        "ok": True,
        "channels": [channel.to_api(ws.bot_user_id) for channel in listed[start : start + limit]],
        "response_metadata": {"next_cursor": _cursor(start + limit) if more else ""},
    }


def _list_type(channel: Channel) -> str:
    if channel.is_im:
        return "im"
    return "private_channel" if channel.is_private else "public_channel"


def _in_history(message: dict[str, Any], args: Args) -> bool:
    # Thread replies stay in their thread unless they were broadcast to the channel.
    reply = message.get("thread_ts") not in (None, message["ts"])
    if reply and message.get("subtype") != "thread_broadcast":
        return False
    ts = _decimal(message["ts"], "ts")
    oldest = _decimal(text(args, "oldest", "0"), "oldest")
    latest = _decimal(text(args, "latest"), "latest") if args.get("latest") else None
    if flag(args, "inclusive"):
        return ts >= oldest and (latest is None or ts <= latest)
    return ts > oldest and (latest is None or ts < latest)


def _decimal(value: str, key: str) -> Decimal:
    # Decimal, not float: a ts has 16 significant digits.
    try:
        return Decimal(value)
    except InvalidOperation:
        raise ApiError("invalid_arguments", f"[ERROR] '{key}' must be a timestamp") from None


def _cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _cursor_offset(cursor: str) -> int:
    if not cursor:
        return 0
    try:
        kind, _, number = base64.b64decode(cursor, validate=True).decode().partition(":")
        if kind == "offset" and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise ApiError("invalid_cursor")


HANDLERS = {
    "conversations.create": create,
    "conversations.invite": invite,
    "conversations.setTopic": set_topic,
    "conversations.setPurpose": set_purpose,
    "conversations.archive": archive,
    "conversations.info": info,
    "conversations.join": join,
    "conversations.history": history,
    "conversations.list": list_conversations,
    "users.conversations": user_conversations,
}
