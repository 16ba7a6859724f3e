"""Periodic jobs (APScheduler 3) on the app's event loop: update and follow-up reminders, the
archive of closed war rooms, postmortem drafts still to post, the weekly alert report."""

from __future__ import annotations

from datetime import UTC, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot import clock
from bot.alerts.report import alert_report, report_markdown
from bot.deps import Deps
from bot.slack.archive import archive_closed_rooms
from bot.slack.followups import send_due_followups
from bot.slack.postmortem import post_missing_drafts
from bot.slack.reminders import send_due_reminders
from storage.session import run_in_session

REMINDER_CHECK_SECONDS = 30
FOLLOWUP_CHECK_SECONDS = 60
ARCHIVE_CHECK_SECONDS = 60


def start_scheduler(deps: Deps) -> AsyncIOScheduler:
    """Start the jobs; each is derived from database rows, so a restart loses nothing."""

    async def remind() -> None:
        await send_due_reminders(deps, clock.now())

    async def remind_followups() -> None:
        await send_due_followups(deps, clock.now())

    async def archive_rooms() -> None:
        await archive_closed_rooms(deps, clock.now())

    async def post_drafts() -> None:
        await post_missing_drafts(deps, clock.now())

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
    for job, seconds, name in (
        (remind_followups, FOLLOWUP_CHECK_SECONDS, "followup-reminders"),
        (archive_rooms, ARCHIVE_CHECK_SECONDS, "archive"),
        (post_drafts, ARCHIVE_CHECK_SECONDS, "postmortem-drafts"),
    ):
        scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=name,
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
