"""Postmortem drafts still to post; the scheduler calls this every minute."""

from __future__ import annotations

from datetime import datetime

from bot.deps import Deps
from bot.flows.closing import record_missing_drafts
from storage.session import run_in_session


async def post_missing_drafts(deps: Deps, now: datetime) -> None:
    """Record a draft job for any close whose draft was not posted (Slack refused, or every try
    failed) and that no job is posting now (bot/flows/closing.py)."""
    if await run_in_session(record_missing_drafts, now):
        deps.jobs.wake()
