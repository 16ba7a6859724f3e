"""Periodic jobs (APScheduler 3) on the app's event loop: update reminders, the weekly alert report."""

from __future__ import annotations

from datetime import UTC, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import clock
from bot.alerts.report import alert_report, report_markdown
from bot.deps import Deps
from bot.slack.reminders import send_due_reminders
from storage.session import run_in_session

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
    if deps.settings.warroom_alert_report_channel:
        scheduler.add_job(
            lambda: post_weekly_report(deps),
            "cron",
            day_of_week="mon",
            hour=9,
            id="alert-report",
            coalesce=True,
        )
    scheduler.start()
    return scheduler


async def post_weekly_report(deps: Deps) -> None:
    """Post the last week's alert noise report to WARROOM_ALERT_REPORT_CHANNEL."""
    channel = deps.settings.warroom_alert_report_channel
    assert channel is not None
    now = clock.now()
    figures = await run_in_session(alert_report, now - timedelta(days=7), now)
    await deps.slack.post(channel, f"```{report_markdown(figures)[:3500]}```")
