"""Posting a message once across crashes: find it by its metadata key on a retry, else post it."""

from __future__ import annotations

from typing import Any

from bot.deps import Deps
from bot.jobs.queue import Claimed

RECONCILE_SLACK_SECONDS = 60  # a post may carry a ts a little before the job's own clock


def since(job: Claimed) -> float | None:
    """Where a retried job looks for its own earlier posts; None on a first attempt (post at once)."""
    return job.created_at.timestamp() - RECONCILE_SLACK_SECONDS if job.retried else None


async def post_keyed(
    deps: Deps,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    *,
    key: str,
    after: float | None,
) -> str:
    """Post `text` (and `blocks`) carrying `key`, unless a retry (`after` set) finds it posted."""
    if after is not None:
        found = await deps.slack.find_posted(channel, key, since=after)
        if found is not None:
            return found
    return await deps.slack.post(channel, text, blocks, key=key)
