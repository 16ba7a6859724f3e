"""Periodic jobs (APScheduler 3) on the app's event loop: reminders today."""

from __future__ import annotations

from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import clock
from bot.deps import Deps
from bot.slack.reminders import send_due_reminders

REMINDER_CHECK_SECONDS = 30


def start_scheduler(deps: Deps) -> AsyncIOScheduler:
    """Start the jobs; each is derived from database rows, so a restart loses nothing."""

    async def remind() -> None:
        await send_due_reminders(deps, clock.now())

    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        remind,
        "interval",
        seconds=REMINDER_CHECK_SECONDS,
        id="reminders",
        max_instances=1,
        coalesce=True,
        next_run_time=clock.now(),
    )
    scheduler.start()
    return scheduler
