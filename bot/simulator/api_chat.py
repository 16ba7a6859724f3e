"""chat.*: post, post ephemeral, update and permalink."""

import copy
import re
from typing import Any

from .args import Args, flag, text
from .blocks import block_problems
from .kit import MAX_MESSAGE_BLOCKS
from .spec import ApiError, is_given
from .workspace import Channel, Workspace

MAX_TEXT = 40_000
MAX_ATTACHMENTS = 100
CONTENT_KEYS = ("text", "blocks", "attachments")


def post_message(ws: Workspace, args: Args) -> dict[str, Any]:
    """chat.postMessage: store the message in the channel (or thread)."""
    channel = postable(ws, text(args, "channel"))
    message = _new_message(ws, args, message_content(args))
    channel.messages.append(message)
    _count_reply(channel, message)
    reply = {"ok": True, "channel": channel.id, "ts": message["ts"]}
    return reply | {"message": copy.deepcopy(message)}


def post_ephemeral(ws: Workspace, args: Args) -> dict[str, Any]:
    """chat.postEphemeral: only the named member sees it, so nothing is stored."""
    channel = postable(ws, text(args, "channel"))
    user = text(args, "user")
    if user not in channel.members:
        raise ApiError("user_not_in_channel", f"[ERROR] '{user}' is not in {channel.id}")
    message_content(args)
    return {"ok": True, "message_ts": ws.next_ts()}


def update(ws: Workspace, args: Args) -> dict[str, Any]:
    """chat.update: replace the text; blocks and attachments change only when given."""
    channel = target(ws, text(args, "channel"))
    if channel.is_archived:
        raise ApiError("is_archived")
    message = channel.find(text(args, "ts"))
    if message is None:
        raise ApiError("message_not_found")
    if message.get("user") != ws.bot_user_id:
        raise ApiError("cant_update_message", "[ERROR] the bot can only edit its own messages")
    content = message_content(args)
    message["text"] = content.get("text", "")
    message.update({key: content[key] for key in ("blocks", "attachments") if key in content})
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    return {
        "ok": True,
        "channel": channel.id,
        "ts": message["ts"],
        "text": message["text"],
        "message": copy.deepcopy(message),
    }


def get_permalink(ws: Workspace, args: Args) -> dict[str, Any]:
    """chat.getPermalink."""
    channel = target(ws, text(args, "channel"))
    message = channel.find(text(args, "message_ts"))
    if message is None:
        raise ApiError("message_not_found")
    link = f"https://example.slack.com/archives/{channel.id}/p{message['ts'].replace('.', '')}"
    if message.get("thread_ts") not in (None, message["ts"]):
        link += f"?thread_ts={message['thread_ts']}&cid={channel.id}"
    return {"ok": True, "channel": channel.id, "permalink": link}


def target(ws: Workspace, channel_id: str) -> Channel:
    """A channel by id; a person's id means the bot's direct messages with them."""
    if channel_id not in ws.channels and channel_id in ws.users:
        if channel_id == ws.bot_user_id:
            raise ApiError("channel_not_found", "[ERROR] the bot cannot message itself")
        return ws.direct(channel_id)
    return ws.channel(channel_id)


def postable(ws: Workspace, channel_id: str) -> Channel:
    """A channel the bot may post in: public ones need no membership (chat:write.public)."""
    channel = target(ws, channel_id)
    if channel.is_archived:
        raise ApiError("is_archived")
    if channel.is_private and ws.bot_user_id not in channel.members:
        raise ApiError("not_in_channel", f"[ERROR] the bot is not a member of {channel.id}")
    return channel


def message_content(args: Args) -> dict[str, Any]:
    """The text, blocks and attachments given, checked as chat.postMessage checks them."""
    if not any(is_given(args.get(key)) for key in CONTENT_KEYS):
        raise ApiError("no_text", "[ERROR] give text, blocks or attachments")
    content = {key: args[key] for key in CONTENT_KEYS if args.get(key) not in (None, "")}
    if len(text(args, "text")) > MAX_TEXT:
        raise ApiError("msg_too_long", f"[ERROR] text is over {MAX_TEXT} characters")
    if "blocks" in content:
        check_message_blocks(content["blocks"])
    if "attachments" in content:
        _check_attachments(content["attachments"])
    return content


def check_message_blocks(blocks: Any) -> None:
    """Raise invalid_blocks_format or invalid_blocks the way Slack does for a message."""
    if not isinstance(blocks, list):
        raise ApiError("invalid_blocks_format", "[ERROR] blocks must be a JSON array")
    problems = block_problems(blocks, limit=MAX_MESSAGE_BLOCKS)
    if problems:
        raise ApiError("invalid_blocks", *problems)


def _check_attachments(attachments: Any) -> None:
    if not isinstance(attachments, list) or not all(isinstance(a, dict) for a in attachments):
        raise ApiError("invalid_attachments", "[ERROR] attachments must be a JSON array")
    if len(attachments) > MAX_ATTACHMENTS:
        raise ApiError("too_many_attachments")


def _new_message(ws: Workspace, args: Args, content: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {
        "type": "message",
        "ts": ws.next_ts(),
        "user": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "team": ws.team_id,
        "text": content.get("text", ""),
    }
    message.update({key: content[key] for key in ("blocks", "attachments") if key in content})
    if is_given(args.get("metadata")):
        message["metadata"] = _metadata(args["metadata"])
    thread_ts = text(args, "thread_ts")
    if thread_ts:
        message["thread_ts"] = thread_ts
        if flag(args, "reply_broadcast"):
            message["subtype"] = "thread_broadcast"
    return message


def _metadata(metadata: Any) -> dict[str, Any]:
    """Message metadata as Slack checks it: an event_type name and an event_payload object."""
    if not isinstance(metadata, dict):
        raise ApiError("invalid_metadata_format", "[ERROR] metadata must be a JSON object")
    event_type, payload = metadata.get("event_type"), metadata.get("event_payload")
    if not isinstance(event_type, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,255}", event_type):
        raise ApiError("invalid_metadata_schema", "[ERROR] metadata.event_type must be a name")
    if not isinstance(payload, dict):
        raise ApiError("invalid_metadata_schema", "[ERROR] metadata.event_payload must be an object")
    return {"event_type": event_type, "event_payload": payload}


def _count_reply(channel: Channel, message: dict[str, Any]) -> None:
    # Slack marks a thread's parent with its own ts as thread_ts and counts replies.
    thread_ts = message.get("thread_ts")
    parent = channel.find(thread_ts) if thread_ts else None
    if parent is not None and parent is not message:
        parent["thread_ts"] = parent["ts"]
        parent["reply_count"] = parent.get("reply_count", 0) + 1


HANDLERS = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "chat.getPermalink": get_permalink,
}
