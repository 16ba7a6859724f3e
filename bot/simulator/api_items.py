"""Things attached to channels and messages: pins, reactions and bookmarks."""

import copy
import re
import time
from typing import Any

from .api_chat import target
from .api_conversations import writable
from .args import Args, text
from .spec import ApiError
from .workspace import Channel, Workspace

MAX_PINS = 100
# An emoji name without colons, optionally with a skin tone ("thumbsup::skin-tone-2").
EMOJI_NAME = re.compile(r"^[a-z0-9_+'-]+(::skin-tone-[2-6])?$")


def add_pin(ws: Workspace, args: Args) -> dict[str, Any]:
    """pins.add."""
    channel = writable(ws, text(args, "channel"))
    ts = text(args, "timestamp")
    _message(channel, ts)
    if ts in channel.pins:
        raise ApiError("already_pinned")
    if len(channel.pins) >= MAX_PINS:
        raise ApiError("too_many_pins")
    channel.pins.append(ts)
    return {"ok": True}


def add_reaction(ws: Workspace, args: Args) -> dict[str, Any]:
    """reactions.add: the bot reacts once per emoji per message."""
    channel = target(ws, text(args, "channel"))
    if channel.is_archived:
        raise ApiError("is_archived")
    name = text(args, "name")
    if not EMOJI_NAME.match(name):
        raise ApiError("invalid_name", f"[ERROR] '{name}' is not an emoji name (no colons)")
    message = _message(channel, text(args, "timestamp"))
    reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
    entry = next((r for r in reactions if r["name"] == name), None)
    if entry is None:
        entry = {"name": name, "users": [], "count": 0}
        reactions.append(entry)
    if ws.bot_user_id in entry["users"]:
        raise ApiError("already_reacted")
    entry["users"].append(ws.bot_user_id)
    entry["count"] += 1
    return {"ok": True}


def add_bookmark(ws: Workspace, args: Args) -> dict[str, Any]:
    """bookmarks.add: only link bookmarks, with an http(s) link."""
    channel = writable(ws, text(args, "channel_id"))
    if text(args, "type") != "link":
        raise ApiError("invalid_bookmark_type", "[ERROR] type must be 'link'")
    link = text(args, "link")
    if not link.startswith(("https://", "http://")):
        raise ApiError("invalid_link", "[ERROR] link must be an http(s) URL")
    bookmark = {
        "id": ws.next_id("Bk"),
        "channel_id": channel.id,
        "title": text(args, "title"),
        "link": link,
        "emoji": text(args, "emoji"),
        "type": "link",
        "date_created": int(time.time()),
        "created_by": ws.bot_user_id,
    }
    channel.bookmarks.append(bookmark)
    return {"ok": True, "bookmark": copy.deepcopy(bookmark)}


def list_bookmarks(ws: Workspace, args: Args) -> dict[str, Any]:
    """bookmarks.list: a channel's bookmarks, for a member (the bot)."""
    channel = ws.channel(text(args, "channel_id"))
    if ws.bot_user_id not in channel.members:
        raise ApiError("not_in_channel", f"[ERROR] the bot is not a member of {channel.id}")
    return {"ok": True, "bookmarks": copy.deepcopy(channel.bookmarks)}


def _message(channel: Channel, ts: str) -> dict[str, Any]:
    message = channel.find(ts)
    if message is None:
        raise ApiError("message_not_found", f"[ERROR] no message {ts} in {channel.id}")
    return message


HANDLERS = {
    "pins.add": add_pin,
    "reactions.add": add_reaction,
    "bookmarks.add": add_bookmark,
    "bookmarks.list": list_bookmarks,
}
