"""Scheduled work across replicas: each due time becomes one job, run by one replica."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from bot.jobs import faults
from bot.jobs.dispatcher import LEASE
from bot.scheduler import Schedule, record_due
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import Job
from storage.session import in_session

MONDAY_9 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def reports(simulator) -> list[dict]:
    return [m for m in simulator.channel("C0GENERAL")["messages"] if m["text"].startswith("```# Alert noise")]


def report_jobs() -> list[Job]:
    return in_session(lambda s: list(s.exec(select(Job).where(Job.kind == "schedule"))))


@pytest.fixture
def replicas(simulator, db, clock):
    clock.at = MONDAY_9 + timedelta(minutes=1)
    settings = local_settings(simulator, db, warroom_alert_report_channel="C0GENERAL")
    both = [LocalWarroom(simulator, settings), LocalWarroom(simulator, settings)]
    yield both
    for replica in both:
        replica.stop()


def settle(replicas) -> None:
    for replica in replicas * 2:  # each may have left work the other claims
        replica.settle()


def test_two_replicas_past_monday_nine_post_one_report(replicas, clock):
    for replica in replicas:
        asyncio.run(record_due(replica.deps, clock.now()))
    settle(replicas)
    assert len(reports(replicas[0].sim)) == 1
    [job] = [job for job in report_jobs() if job.key.startswith("schedule:alert-report:")]
    assert (job.key, job.state) == ("schedule:alert-report:2026-11-30T09:00:00Z", "done")
    clock.at += timedelta(days=1)  # the next tick in the same week finds nothing new to post
    for replica in replicas:
        asyncio.run(record_due(replica.deps, clock.now()))
    settle(replicas)
    assert len(reports(replicas[0].sim)) == 1


def test_a_report_crashed_after_posting_is_not_posted_again(replicas, clock):
    faults.arm("report.posted")
    asyncio.run(record_due(replicas[0].deps, clock.now()))
    settle(replicas)
    clock.at += LEASE + timedelta(seconds=1)  # the dead owner's lease runs out; the other replica takes over
    for replica in replicas:
        replica.deps.jobs.wake()
    settle(replicas)
    assert len(reports(replicas[0].sim)) == 1
    assert {job.state for job in report_jobs()} == {"done"}


def test_due_times_are_counted_in_utc_from_a_monday():
    weekly = Schedule("report", record_due, timedelta(weeks=1), offset=timedelta(hours=9))  # type: ignore[arg-type]
    assert weekly.due(MONDAY_9 - timedelta(seconds=1)) == MONDAY_9 - timedelta(weeks=1)
    assert weekly.due(MONDAY_9) == MONDAY_9
    assert weekly.key(MONDAY_9) == "schedule:report:2026-11-30T09:00:00Z"
    late = Schedule("report", record_due, timedelta(weeks=1), catch_up=timedelta(hours=1))  # type: ignore[arg-type]
    assert late.due(datetime(2026, 11, 30, 0, 30, tzinfo=UTC)) is not None
    assert late.due(datetime(2026, 11, 30, 2, 0, tzinfo=UTC)) is None
    every_30s = Schedule("reminders", record_due, timedelta(seconds=30))  # type: ignore[arg-type]
    assert every_30s.due(MONDAY_9 + timedelta(seconds=59)) == MONDAY_9 + timedelta(seconds=30)
