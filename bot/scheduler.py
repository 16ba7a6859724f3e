"""Periodic jobs (APScheduler 3) on the app's event loop: update and follow-up reminders, the
archive of closed war rooms, postmortem drafts still to post, the weekly alert report."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

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
    remind = while_slack_works(deps, send_due_reminders)
    remind_followups = while_slack_works(deps, send_due_followups)
    archive_rooms = while_slack_works(deps, archive_closed_rooms)
    post_drafts = while_slack_works(deps, post_missing_drafts)

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
            while_slack_works(deps, post_weekly_report),
            "cron",
            day_of_week="mon",
            hour=9,
            id="alert-report",
            coalesce=True,
        )
    scheduler.start()
    return scheduler


def while_slack_works(
    deps: Deps, job: Callable[[Deps, datetime], Awaitable[Any]]
) -> Callable[[], Awaitable[None]]:
    """`job` at the current time, skipped while Slack refuses the token: it would claim rows
    (a reminder as sent, a room as archived) and then fail to post, losing them."""

    async def run() -> None:
        if deps.slack.state.lost_access is None:
            await job(deps, clock.now())

    return run


async def post_weekly_report(deps: Deps, now: datetime) -> None:
    """Post the last week's alert noise report to WARROOM_ALERT_REPORT_CHANNEL."""
    channel = deps.settings.warroom_alert_report_channel
    assert channel is not None
    figures = await run_in_session(alert_report, now - timedelta(days=7), now)
    await deps.slack.post(channel, f"```{report_markdown(figures)[:3500]}```")
