"""Small jobs other flows record in the transaction that decides them.

`slack.post`: a message in a channel, exactly once. Its metadata carries the job's key, so a
retry looks for it in the channel's history before posting again. A direct message (to a person's
id) cannot be looked for (Warroom does not read DMs: no `im:history`), so it is recorded as
intended just before the call, and a retry that finds that record sends nothing: at most once.

`slack.update`: a known message rewritten in place; doing it again changes nothing.

`slack.tell`: an answer only the asker sees (their response URL, or a whisper). Slack keeps no
trace of an ephemeral message, so a retry cannot tell whether it arrived: at most once is what
Slack allows, and a crash after it is sent and before the job is done may repeat it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows.effects import post_once, retry_since, tell
from bot.incidents.service import claim_key
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from storage.session import run_in_session

POST = "slack.post"
TELL = "slack.tell"
UPDATE = "slack.update"
log = logging.getLogger(__name__)


def record_post(
    session: Session,
    key: str,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None,
    *,
    at: datetime,
    incident_id: int | None = None,
) -> bool:
    """Promise to post `text` in `channel` (or to a person) once; False when `key` was promised before."""
    payload = {"channel": channel, "text": text, "blocks": blocks, "incident_id": incident_id}
    return queue.record(session, POST, key, payload, at=at)


def record_tell(
    session: Session,
    key: str,
    text: str,
    where: dict[str, Any] | None,
    *,
    at: datetime,
    blocks: list[dict[str, Any]] | None = None,
) -> bool:
    """Promise to tell whoever `where` names (a response URL, or a channel and user) `text`."""
    return queue.record(session, TELL, key, {"text": text, "blocks": blocks}, at=at, tell=where)


def record_update(
    session: Session,
    key: str,
    channel: str,
    ts: str,
    text: str,
    blocks: list[dict[str, Any]],
    *,
    at: datetime,
) -> bool:
    """Promise to rewrite the message at `ts` in `channel`."""
    payload = {"channel": channel, "ts": ts, "text": text, "blocks": blocks}
    return queue.record(session, UPDATE, key, payload, at=at)


def register(deps: Deps) -> None:
    """Run post, tell and update jobs in this process."""
    deps.jobs.register(POST, lambda job: run_post(deps, job))
    deps.jobs.register(TELL, lambda job: run_tell(deps, job))
    deps.jobs.register(UPDATE, lambda job: run_update(deps, job))


async def run_post(deps: Deps, job: Claimed) -> None:
    """Post the message unless an earlier attempt's post carrying this key is in the channel."""
    payload = job.payload
    channel, text = str(payload["channel"]), str(payload["text"])
    if channel.startswith(("U", "W")):  # a person: their direct messages with Warroom
        at, incident_id = clock.now(), payload.get("incident_id")
        if not await run_in_session(claim_key, f"dm:{job.key}", "direct-message", incident_id, at):
            log.warning("job %s may have sent its direct message before; not sending it again", job.id)
            return
        faults.step("post.intended")
        await deps.slack.post(channel, text, payload["blocks"], key=job.key)
    else:
        since = retry_since(job)
        await post_once(deps, channel, text, key=job.key, since=since, blocks=payload["blocks"])
    faults.step("post.sent")


async def run_tell(deps: Deps, job: Claimed) -> None:
    """Send the answer to the asker."""
    await tell(deps, job.tell or {}, str(job.payload["text"]), job.payload.get("blocks"))


async def run_update(deps: Deps, job: Claimed) -> None:
    """Rewrite the message."""
    payload = job.payload
    await deps.slack.update(
        str(payload["channel"]), str(payload["ts"]), str(payload["text"]), payload["blocks"]
    )
