"""What every flow needs of Slack: posts made once across crashes (found by their metadata key on
a retry), answers to the asker alone, and who is asking, as Slack knows them."""

from __future__ import annotations

import logging
from typing import Any

from bot import clock
from bot.adapters.slack import SlackCallFailed
from bot.deps import Deps
from bot.incidents.changes import Context
from bot.incidents.errors import InvalidInput
from bot.incidents.permissions import Actor
from bot.jobs.dispatcher import is_transient
from bot.jobs.queue import Claimed

log = logging.getLogger(__name__)
RECONCILE_SLACK_SECONDS = 60  # a post may carry a ts a little before the job's own clock


async def share_recorded(deps: Deps, job: Claimed, what: str) -> None:
    """Show the files a job's payload recorded (`files`) in the thread it names: exactly those
    ids. On a retry Slack may refuse ids an earlier attempt already completed; that is done."""
    payload = job.payload
    channel, thread = str(payload["channel"]), str(payload["thread_ts"])
    try:
        await deps.slack.share(list(payload["files"]), channel, thread_ts=thread)
    except SlackCallFailed as exc:
        if is_transient(exc) or not job.retried:
            raise
        log.warning("job %s: sharing %s again was refused (%s); done", job.id, what, exc.error)


def retry_since(job: Claimed) -> float | None:
    """Where a retried job looks for its own earlier posts; None on a first attempt (post at once)."""
    return job.created_at.timestamp() - RECONCILE_SLACK_SECONDS if job.retried else None


async def context_for(deps: Deps, user_id: str, team_id: str, channel_id: str | None) -> Context:
    """Who is asking, as Slack knows them (guest, other workspace), and from where."""
    user = await deps.slack.user(user_id)
    actor = Actor(
        user_id=user_id,
        is_guest=bool(user.get("is_restricted") or user.get("is_ultra_restricted")),
        is_external=bool(user.get("team_id")) and user.get("team_id") != team_id,
    )
    return Context(
        actor=actor,
        at=clock.now(),
        admins=deps.settings.warroom_admins,
        channel_id=channel_id,
        bot_user_id=await deps.slack.bot_user_id(),
    )


async def require_person(deps: Deps, user_id: str, duty: str = "hold incident roles") -> None:
    """Refuse unknown people, bots and deactivated accounts for `duty` (a role, a follow-up)."""
    try:
        user = await deps.slack.user(user_id)
    except SlackCallFailed as exc:
        if exc.error != "user_not_found":
            raise
        raise InvalidInput(f"<@{user_id}> is not someone in this workspace; name a person.") from None
    if user.get("is_bot") or user.get("deleted") or user_id == "USLACKBOT":
        raise InvalidInput(f"Bots and deactivated accounts cannot {duty}; name a person.")


async def post_once(
    deps: Deps,
    channel: str,
    text: str,
    *,
    key: str | None,
    since: float | None,
    blocks: list[dict[str, Any]] | None = None,
) -> str:
    """Post `text` unless a post carrying `key` is already in `channel` since `since`."""
    if key and since is not None:
        found = await deps.slack.find_posted(channel, key, since=since)
        if found is not None:
            return found
    return await deps.slack.post(channel, text, blocks, key=key)


async def tell(
    deps: Deps, where: dict[str, Any], text: str, blocks: list[dict[str, Any]] | None = None
) -> None:
    """Answer only the asker: through the response URL `where` names, else a whisper in its channel."""
    if where.get("response_url"):
        await deps.slack.respond(str(where["response_url"]), text, blocks)
    elif where.get("channel") and where.get("user"):
        await deps.slack.whisper(str(where["channel"]), str(where["user"]), text)
