"""The job table: recorded once per key, leased to one process at a time, taken over only when
a lease runs out, retried with backoff, failed jobs told and kept, unfinished work given back."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from sqlmodel import select

from bot.errors import WarroomError
from bot.jobs import queue
from bot.jobs.dispatcher import MAX_ATTEMPTS, Dispatcher, Retry
from bot.jobs.queue import Claimed
from storage.models import Job
from storage.session import in_session, session_scope
from tests.clock import T0

LEASE = timedelta(seconds=30)


def record(key: str, kind: str = "echo", **payload: object) -> bool:
    return in_session(queue.record, kind, key, dict(payload), at=T0, tell={"user": "U0ALICE"})


def jobs() -> list[Job]:
    with session_scope() as session:
        return list(session.exec(select(Job).order_by(Job.id)))  # type: ignore[arg-type]


def test_the_same_key_is_recorded_once(db):
    assert record("declare:V1", incident=1) is True
    assert record("declare:V1", incident=1) is False
    rows = [(job.key, job.state, job.payload) for job in jobs()]
    assert rows == [("declare:V1", "queued", {"incident": 1})]


def test_a_leased_job_is_taken_over_only_after_its_lease_runs_out(db):
    record("a")
    [mine] = in_session(queue.claim, "one", at=T0, lease=LEASE, limit=10)
    assert in_session(queue.claim, "two", at=T0 + timedelta(seconds=29), lease=LEASE, limit=10) == []
    [taken] = in_session(queue.claim, "two", at=T0 + timedelta(seconds=31), lease=LEASE, limit=10)
    assert (taken.id, taken.attempts) == (mine.id, 2)
    assert in_session(queue.finish, mine.id, "one", at=T0) is False  # the old owner lost it
    assert in_session(queue.finish, mine.id, "two", at=T0) is True
    assert jobs()[0].state == "done"


def test_replicas_claiming_at_once_never_take_the_same_job(db):
    for n in range(200):
        record(f"job-{n}")

    def drain(owner: str) -> list[int]:
        taken: list[int] = []
        while batch := in_session(queue.claim, owner, at=T0, lease=LEASE, limit=7):
            taken += [job.id for job in batch]
        return taken

    with ThreadPoolExecutor(4) as pool:
        claimed = [job for batch in pool.map(drain, ["r1", "r2", "r3", "r4"]) for job in batch]
    assert sorted(claimed) == sorted(job.id for job in jobs())


async def run_dispatcher(dispatcher: Dispatcher, until: asyncio.Event, timeout: float = 10) -> None:
    dispatcher.start()
    try:
        await asyncio.wait_for(until.wait(), timeout)
    finally:
        await dispatcher.stop(grace=1)


def test_a_job_runs_once_and_is_done(db, clock):
    record("a", message="hello")
    seen: list[dict[str, object]] = []

    async def main() -> None:
        finished = asyncio.Event()
        dispatcher = Dispatcher(2)

        async def echo(job: Claimed) -> None:
            seen.append(job.payload)
            finished.set()

        dispatcher.register("echo", echo)
        await run_dispatcher(dispatcher, finished)

    asyncio.run(main())
    assert seen == [{"message": "hello"}]
    assert [job.state for job in jobs()] == ["done"]


def test_a_transient_failure_is_retried_later_and_a_refusal_is_told_once(db, clock):
    record("flaky")
    record("refused", kind="refuse")
    told: list[tuple[str, str]] = []

    async def main() -> None:
        refused = asyncio.Event()

        async def flaky(job: Claimed) -> None:
            raise Retry("Slack is slow")

        async def refuse(job: Claimed) -> None:
            raise WarroomError("INC-1 is already resolved.")

        async def tell(job: Claimed, text: str) -> None:
            told.append((job.key, text))
            refused.set()

        dispatcher = Dispatcher(2, tell=tell)
        dispatcher.register("echo", flaky)
        dispatcher.register("refuse", refuse)
        await run_dispatcher(dispatcher, refused)
        await asyncio.sleep(0.2)

    asyncio.run(main())
    by_key = {job.key: job for job in jobs()}
    assert told == [("refused", "INC-1 is already resolved.")]
    assert (by_key["refused"].state, by_key["refused"].last_error) == ("failed", "INC-1 is already resolved.")
    flaky_job = by_key["flaky"]
    assert (flaky_job.state, flaky_job.attempts) == ("queued", 1)
    assert flaky_job.last_error == "Retry('Slack is slow')"
    assert flaky_job.run_after > T0  # backoff: not due again at once


def test_a_job_that_keeps_failing_ends_failed_and_can_be_retried_by_hand(db, clock):
    record("broken")
    with session_scope() as session:
        job = session.exec(select(Job)).one()
        job.attempts = MAX_ATTEMPTS - 1
    told: list[str] = []

    async def main() -> None:
        done = asyncio.Event()

        async def broken(job: Claimed) -> None:
            raise RuntimeError("bug")

        async def tell(job: Claimed, text: str) -> None:
            told.append(text)
            done.set()

        dispatcher = Dispatcher(1, tell=tell)
        dispatcher.register("echo", broken)
        await run_dispatcher(dispatcher, done)

    asyncio.run(main())
    [failed] = jobs()
    assert failed.state == "failed" and "could not finish this after several tries" in told[0]
    assert [j.key for j in in_session(queue.troubled, at=T0)] == ["broken"]
    assert in_session(queue.retry_failed, failed.id, at=T0) is True
    assert jobs()[0].state == "queued" and jobs()[0].attempts == 0


def test_shutdown_gives_back_a_job_it_could_not_finish_and_another_process_runs_it(db, clock):
    record("slow")
    ran: list[str] = []

    async def main() -> None:
        started = asyncio.Event()

        async def hang(job: Claimed) -> None:
            started.set()
            await asyncio.sleep(60)

        first = Dispatcher(1)
        first.register("echo", hang)
        await run_dispatcher(first, started)  # stop(grace=1) cancels it and releases the lease
        assert jobs()[0].state == "queued"

        finished = asyncio.Event()

        async def quick(job: Claimed) -> None:
            ran.append(job.key)
            finished.set()

        second = Dispatcher(1)
        second.register("echo", quick)
        await run_dispatcher(second, finished)

    asyncio.run(main())
    # The cut-short attempt counts, so the second one knows to reconcile what the first began.
    assert ran == ["slow"] and jobs()[0].state == "done" and jobs()[0].attempts == 2


def test_warroom_jobs_lists_failed_and_stuck_jobs_and_retries_one(db, monkeypatch):
    from click.testing import CliRunner

    from bot.cli import cli

    record("failed-one")
    record("stuck-one")
    failed, _ = in_session(queue.claim, "dead-replica", at=T0, lease=LEASE, limit=2)
    refusal = "Slack refused chat.postMessage: is_archived"
    in_session(queue.finish, failed.id, "dead-replica", at=T0, error=refusal)
    monkeypatch.setenv("DATABASE_URL", db)
    listing = CliRunner().invoke(cli, ["jobs"])
    assert listing.exit_code == 0, listing.output
    assert refusal in listing.output
    assert "stuck (its owner stopped)" in listing.output  # the real clock is long past T0's lease
    retried = CliRunner().invoke(cli, ["jobs", "retry", str(failed.id)])
    assert retried.exit_code == 0 and "queued again" in retried.output
    again = CliRunner().invoke(cli, ["jobs", "retry", str(failed.id)])
    assert again.exit_code == 1 and f"No failed job {failed.id}" in again.output


def test_slack_being_too_slow_is_retried_later_not_told_as_a_refusal(db, clock):
    from bot.adapters.slack import SlackTooSlow

    record("slow-slack")
    told: list[str] = []

    async def main() -> None:
        async def slow(job: Claimed) -> None:
            raise SlackTooSlow("chat.postMessage", "no answer within 20 s")

        async def tell(job: Claimed, text: str) -> None:
            told.append(text)

        dispatcher = Dispatcher(1, tell=tell)
        dispatcher.register("echo", slow)
        dispatcher.start()
        await asyncio.sleep(0.5)
        await dispatcher.stop(grace=1)

    asyncio.run(main())
    [job] = jobs()
    assert told == [] and (job.state, job.attempts) == ("queued", 1) and job.run_after > T0
    assert job.last_error is not None and job.last_error.startswith("Slack is too slow right now")
