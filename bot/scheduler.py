"""Periodic work, once per due time across replicas: update and follow-up reminders, the archive
of closed war rooms, postmortem drafts still to post, the weekly alert report.

Every replica's APScheduler ticks, and each tick records one job per schedule keyed by the
schedule's name and its latest due time (`schedule:alert-report:2026-12-07T09:00Z`). However many
replicas record the same due time, the job table keeps one row (ON CONFLICT DO NOTHING) and one
replica runs it, under a lease like any other job.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlmodel import Session

from bot import clock
from bot.deps import Deps
from bot.flows import alert_report
from bot.flows.archive import archive_closed_rooms
from bot.flows.closing import post_missing_drafts
from bot.flows.effects import retry_since
from bot.flows.followups import send_due_followups
from bot.flows.reminders import send_due_reminders
from bot.jobs import queue
from bot.jobs.queue import Claimed
from storage.session import run_in_session

KIND = "schedule"
TICK_SECONDS = 10  # well under the shortest period, so every due time is recorded while one replica runs
REMINDER_CHECK_SECONDS = 30
FOLLOWUP_CHECK_SECONDS = 60
ARCHIVE_CHECK_SECONDS = 60
REPORT_CATCH_UP = timedelta(hours=12)  # a report missed while every replica was down still goes out that day
KEPT_JOBS = timedelta(days=7)  # done jobs older than this are deleted by the daily clean-up
_EPOCH = datetime(1970, 1, 5, tzinfo=UTC)  # a Monday at 00:00 UTC: every period is counted from it

Run = Callable[[Deps, datetime, Claimed], Awaitable[Any]]


@dataclass(frozen=True)
class Schedule:
    """Work due every `every`, `offset` after the start of each period (UTC); a due time older than
    `catch_up` is skipped rather than run late."""

    name: str
    run: Run
    every: timedelta
    offset: timedelta = timedelta(0)
    catch_up: timedelta | None = None

    def due(self, now: datetime) -> datetime | None:
        """The latest due time at or before `now`, or None when it is too old to catch up on."""
        periods = (now - _EPOCH - self.offset) // self.every
        due = _EPOCH + self.offset + periods * self.every
        if self.catch_up is not None and now - due > self.catch_up:
            return None
        return due

    def key(self, due: datetime) -> str:
        """The job key of this schedule's run at `due`."""
        return f"{KIND}:{self.name}:{due.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


def _at_now(job: Callable[[Deps, datetime], Awaitable[Any]]) -> Run:
    """A check of the rows due when it runs (each claims its rows, so a late run is harmless)."""

    async def run(deps: Deps, _due: datetime, _job: Claimed) -> None:
        await job(deps, clock.now())

    return run


async def _report(deps: Deps, due: datetime, job: Claimed) -> None:
    await alert_report.post_weekly_report(deps, due, key=job.key, since=retry_since(job))


async def _clean_up(_deps: Deps, due: datetime, _job: Claimed) -> None:
    await run_in_session(queue.purge_done, before=due - KEPT_JOBS)


def schedules(deps: Deps) -> list[Schedule]:
    """What runs when, for these settings."""
    found = [
        Schedule("reminders", _at_now(send_due_reminders), timedelta(seconds=REMINDER_CHECK_SECONDS)),
        Schedule(
            "followup-reminders", _at_now(send_due_followups), timedelta(seconds=FOLLOWUP_CHECK_SECONDS)
        ),
        Schedule("archive", _at_now(archive_closed_rooms), timedelta(seconds=ARCHIVE_CHECK_SECONDS)),
        Schedule("postmortem-drafts", _at_now(post_missing_drafts), timedelta(seconds=ARCHIVE_CHECK_SECONDS)),
        Schedule("job-clean-up", _clean_up, timedelta(days=1), offset=timedelta(hours=3)),
    ]
    if deps.settings.warroom_alert_report_channel:
        found.append(
            Schedule(
                "alert-report",
                _report,
                timedelta(weeks=1),
                offset=timedelta(hours=9),
                catch_up=REPORT_CATCH_UP,
            )
        )
    return found


def register(deps: Deps) -> None:
    """Run scheduled jobs in this process (whichever replica recorded them), and the jobs they
    record (the weekly report's chart)."""
    by_name = {schedule.name: schedule for schedule in schedules(deps)}

    async def run(job: Claimed) -> None:
        schedule = by_name.get(str(job.payload["name"]))
        if schedule is not None:  # a schedule turned off since (no report channel any more)
            await schedule.run(deps, datetime.fromisoformat(str(job.payload["due"])), job)

    deps.jobs.register(KIND, run)
    alert_report.register(deps)


async def record_due(deps: Deps, now: datetime) -> int:
    """Record each schedule's latest due time as a job (once across replicas); how many were new."""
    due = [(schedule, schedule.due(now)) for schedule in schedules(deps)]

    def record(session: Session) -> int:
        return sum(
            queue.record(
                session, KIND, schedule.key(at), {"name": schedule.name, "due": at.isoformat()}, at=now
            )
            for schedule, at in due
            if at is not None
        )

    new = await run_in_session(record)
    if new:
        deps.jobs.wake()
    return new


def start_scheduler(deps: Deps) -> AsyncIOScheduler:
    """Tick every few seconds on the app's loop, recording what is due."""
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        while_slack_works(deps, record_due),
        "interval",
        seconds=TICK_SECONDS,
        id="schedules",
        max_instances=1,
        coalesce=True,
        next_run_time=clock.now(),
    )
    scheduler.start()
    return scheduler


def while_slack_works(
    deps: Deps, job: Callable[[Deps, datetime], Awaitable[Any]]
) -> Callable[[], Awaitable[None]]:
    """`job` at the current time, skipped while Slack refuses the token: a run would claim rows
    (a reminder as sent, a room as archived) and then fail to post, and a recorded one would only
    wait (the dispatcher claims nothing meanwhile)."""

    async def run() -> None:
        if deps.slack.state.lost_access is None:
            await job(deps, clock.now())

    return run
