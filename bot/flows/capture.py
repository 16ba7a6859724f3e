"""Putting a war-room message on the timeline (a reaction or the message shortcut), as a job.

Needs: who asked, their team, the channel and the message's ts. Does: reads the message, adds
it to the timeline once per message (the note's key is the message), and in the same
transaction records the confirmation, so a retry after the add finds it recorded and adds
nothing. Key: the request (the event id, or the shortcut's trigger), so Slack's retries run it once.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.errors import WarroomError
from bot.flows.effects import context_for, tell
from bot.flows.messages import record_tell
from bot.incidents.changes import AlreadyChanged, Context
from bot.incidents.errors import IncidentNotFound
from bot.incidents.notes import add_message
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from storage.session import run_in_session

CAPTURE = "timeline.capture"
NOT_A_ROOM = "This is not an incident war room; use the shortcut on a message in one."


def register(deps: Deps) -> None:
    """Run capture jobs in this process."""
    deps.jobs.register(CAPTURE, lambda job: capture(deps, job))


async def record_capture(deps: Deps, key: str, asked: dict[str, str], ts: str, *, quiet: bool) -> None:
    """Record the capture (the one write on the request path); `quiet`: a reaction, answered only
    when the message went on the timeline."""
    where: dict[str, Any] = {"channel": asked["channel"], "user": asked["user"]}
    if asked.get("response_url"):
        where = {"response_url": asked["response_url"]}
    await deps.jobs.submit(CAPTURE, f"{CAPTURE}:{key}", {**asked, "ts": ts, "quiet": quiet}, tell=where)


async def capture(deps: Deps, job: Claimed) -> None:
    """Add the message and promise its confirmation together; a refusal is told (or not, when quiet)."""
    payload, where = job.payload, job.tell or {}
    channel, ts = str(payload["channel"]), str(payload["ts"])
    try:
        context = await context_for(deps, payload["user"], payload["team"], channel)
        found = await deps.slack.message(channel, ts)
        if found is None:
            raise WarroomError("That message is gone, so it cannot go on the timeline.")
        message = {
            "author": str(found.get("user") or found.get("bot_id") or "unknown"),
            "ts": ts,
            "text": str(found.get("text", "")),
            "permalink": await deps.slack.permalink(channel, ts),
            "channel": channel,
        }
        if await run_in_session(_add_and_confirm, job, message, context):
            faults.step("capture.added")
            deps.jobs.wake()
    except IncidentNotFound:
        if not payload["quiet"]:
            await tell(deps, where, NOT_A_ROOM)
    except AlreadyChanged as exc:
        if not payload["quiet"]:
            await tell(deps, where, exc.user_message)


def _add_and_confirm(session: Session, job: Claimed, message: dict[str, str], context: Context) -> bool:
    key = f"confirm:{job.key}"
    if queue.exists(session, key):
        return False  # an earlier attempt added it and died before finishing
    incident, _ = add_message(session, message["channel"], message, context)
    reply = f"Added <{message['permalink']}|the message> to the {incident.ref} timeline."
    return record_tell(session, key, reply, job.tell, at=clock.now())
