"""The job table as a queue: record work in the caller's transaction, lease it to one process,
finish it, or hand it back.

Postgres is the coordination engine: a claim is one `UPDATE … WHERE id IN (SELECT … FOR UPDATE
SKIP LOCKED) RETURNING`, so replicas never take the same job, and a job whose owner died is taken
over only once its lease has run out. SQLite has one writer at a time and needs no such care.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlmodel import Session

from storage.errors import insert_new
from storage.models import Job, table

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
JOBS = table(Job)


@dataclass(frozen=True)
class Claimed:
    """A job leased to this process: what to run, and on whose behalf."""

    id: int
    kind: str
    key: str
    payload: dict[str, Any]
    tell: dict[str, Any] | None
    attempts: int
    created_at: datetime

    @property
    def retried(self) -> bool:
        """Whether an earlier attempt may have done part of the work (then reconcile first)."""
        return self.attempts > 1


def exists(session: Session, key: str) -> bool:
    """Whether a job with `key` was recorded (a retried job checks whether it already got this far)."""
    return session.execute(select(JOBS.c.id).where(JOBS.c.key == key)).first() is not None


def record(
    session: Session,
    kind: str,
    key: str,
    payload: dict[str, Any],
    *,
    at: datetime,
    tell: dict[str, Any] | None = None,
    run_after: datetime | None = None,
) -> bool:
    """Record a job in the caller's transaction; False when `key` was recorded before."""
    row = {
        "kind": kind,
        "key": key,
        "payload": payload,
        "tell": tell,
        "state": QUEUED,
        "attempts": 0,
        "run_after": run_after or at,
        "created_at": at,
    }
    statement = insert_new(session, JOBS, "key").returning(JOBS.c.id)
    return session.execute(statement, [row]).first() is not None


def claim(session: Session, owner: str, *, at: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Lease up to `limit` due jobs to `owner`: queued ones, and running ones whose lease expired."""
    due = or_(
        and_(JOBS.c.state == QUEUED, JOBS.c.run_after <= at),
        and_(JOBS.c.state == RUNNING, JOBS.c.lease_until < at),
    )
    oldest = (
        select(JOBS.c.id).where(due).order_by(JOBS.c.run_after, JOBS.c.id).limit(limit)
    ).with_for_update(skip_locked=True)
    statement = (
        update(JOBS)
        .where(JOBS.c.id.in_(oldest.scalar_subquery()))
        .values(state=RUNNING, lease_owner=owner, lease_until=at + lease, attempts=JOBS.c.attempts + 1)
        .returning(*(JOBS.c[name] for name in Claimed.__dataclass_fields__))
    )
    rows = session.execute(statement).all()
    return sorted((Claimed(*row) for row in rows), key=lambda job: job.id)


def renew(session: Session, ids: list[int], owner: str, *, until: datetime) -> set[int]:
    """Extend this owner's leases; returns the ids it still holds (another may have taken one over)."""
    if not ids:
        return set()
    statement = (
        update(JOBS)
        .where(JOBS.c.id.in_(ids), JOBS.c.state == RUNNING, JOBS.c.lease_owner == owner)
        .values(lease_until=until)
        .returning(JOBS.c.id)
    )
    return set(session.execute(statement).scalars())


def finish(session: Session, job_id: int, owner: str, *, at: datetime, error: str | None = None) -> bool:
    """Mark a job done (or failed, with why); False when this owner no longer held it."""
    statement = (
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.state == RUNNING, JOBS.c.lease_owner == owner)
        .values(
            state=FAILED if error else DONE,
            last_error=error,
            finished_at=at,
            lease_owner=None,
            lease_until=None,
        )
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def retry_later(session: Session, job_id: int, owner: str, *, run_after: datetime, error: str) -> bool:
    """Hand a job back to the queue to run again after `run_after`."""
    statement = (
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.state == RUNNING, JOBS.c.lease_owner == owner)
        .values(state=QUEUED, run_after=run_after, last_error=error, lease_owner=None, lease_until=None)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def release(session: Session, owner: str, *, at: datetime) -> int:
    """Give back every job `owner` holds (graceful shutdown): others may run them at once. The
    attempt still counts: it was cut short mid-way, so the next one must reconcile (`retried`)."""
    statement = (
        update(JOBS)
        .where(JOBS.c.state == RUNNING, JOBS.c.lease_owner == owner)
        .values(state=QUEUED, run_after=at, lease_owner=None, lease_until=None)
    )
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def retry_failed(session: Session, job_id: int, *, at: datetime) -> bool:
    """Queue a failed job again (`warroom jobs retry ID`), with a fresh count of attempts."""
    statement = (
        update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.state == FAILED)
        .values(state=QUEUED, run_after=at, attempts=0, finished_at=None)
    )
    return session.execute(statement).rowcount == 1  # type: ignore[attr-defined, no-any-return]


def purge_done(session: Session, *, before: datetime) -> int:
    """Delete jobs that finished well before `before` (failed ones stay for `warroom jobs`)."""
    statement = delete(JOBS).where(JOBS.c.state == DONE, JOBS.c.finished_at < before)
    return int(session.execute(statement).rowcount)  # type: ignore[attr-defined]


def busy(session: Session, *, at: datetime) -> int:
    """Jobs due now: queued, or running under a lease that ran out (to be taken over)."""
    due = or_(
        and_(JOBS.c.state == QUEUED, JOBS.c.run_after <= at),
        and_(JOBS.c.state == RUNNING, JOBS.c.lease_until < at),
    )
    return int(session.execute(select(func.count()).select_from(JOBS).where(due)).scalar_one())


def troubled(session: Session, *, at: datetime, limit: int = 100) -> list[Job]:
    """Failed jobs, and running ones whose lease ran out (their owner died): for `warroom jobs`."""
    stuck = and_(Job.state == RUNNING, Job.lease_until < at)  # type: ignore[arg-type, operator]
    statement = select(Job).where(or_(Job.state == FAILED, stuck)).order_by(Job.id.desc()).limit(limit)  # type: ignore[arg-type, union-attr]
    return list(session.exec(statement).scalars())  # type: ignore[call-overload]
