"""Runs the job table's work in this process: claims due jobs under a lease, runs each through
the handler registered for its kind, renews leases while they run, retries with backoff, and
on shutdown stops claiming and gives back what it could not finish.

Nothing here knows a flow: the composition root registers one handler per kind, so the arrow
points from flows to jobs and never back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot import clock
from bot.errors import WarroomError
from bot.jobs import faults, queue
from bot.jobs.queue import Claimed
from storage.session import in_session, run_before_ack, run_in_session

log = logging.getLogger(__name__)

Handler = Callable[[Claimed], Awaitable[None]]
Told = Callable[[Claimed, str], Awaitable[None]]

LEASE = timedelta(seconds=30)
POLL_SECONDS = 1.0
MAX_ATTEMPTS = 8
BACKOFF_CAP_SECONDS = 300.0
FAILED_TEXT = "Warroom could not finish this after several tries; an admin can see it with `warroom jobs`."


class Retry(Exception):
    """Raised by a handler whose work may succeed later (Slack slow, a lease lost): run again."""


def is_transient(error: BaseException) -> bool:
    """Whether a refusal says to try again later (Slack slow, access lost) rather than never."""
    return bool(getattr(error, "transient", False))


class Dispatcher:
    """At most `concurrency` jobs at once in this process; any number of processes share a table."""

    def __init__(
        self,
        concurrency: int = 8,
        *,
        tell: Told | None = None,
        paused: Callable[[], bool] = lambda: False,
        lease: timedelta = LEASE,
    ) -> None:
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.handlers: dict[str, Handler] = {}
        self._tell = tell
        self._paused = paused  # e.g. while Slack refuses the token: claiming would only burn attempts
        self._concurrency = concurrency
        self.lease = lease  # a replica that dies holds its jobs this long before another takes them
        self._running: dict[int, asyncio.Task[None]] = {}
        self._wake: asyncio.Event | None = None
        self._stopping = False
        self._claiming = False
        self._ended = 0  # jobs ended here so far: wait_idle's check that nothing moved meanwhile
        self._loop_task: asyncio.Task[None] | None = None

    def register(self, kind: str, handler: Handler) -> None:
        """Run jobs of `kind` with `handler`."""
        self.handlers[kind] = handler

    async def submit(
        self, kind: str, key: str, payload: dict[str, Any], *, tell: dict[str, Any] | None = None
    ) -> bool:
        """Record a job as the one short write on a request path (off the event loop) and claim it
        at once; False when `key` was recorded before (Slack retried the request)."""
        new = await run_before_ack(queue.record, kind, key, payload, at=clock.now(), tell=tell)
        self.wake()
        return new

    def wake(self) -> None:
        """Claim now rather than at the next poll (a job was just recorded here)."""
        if self._wake is not None:
            self._wake.set()

    def start(self) -> None:
        """Begin claiming on the running loop."""
        self._wake = asyncio.Event()
        self._loop_task = asyncio.get_running_loop().create_task(self._claim_loop())

    @property
    def active(self) -> int:
        """Jobs this process is running now."""
        return len(self._running)

    async def _claim_loop(self) -> None:
        assert self._wake is not None
        loop = asyncio.get_running_loop()
        renew_at = loop.time() + self.lease.total_seconds() / 3
        while not self._stopping:
            self._wake.clear()  # before claiming: a job recorded meanwhile wakes the wait below
            free = 0 if self._paused() else self._concurrency - len(self._running)
            self._claiming = True  # until the claimed jobs are in _running, for wait_idle
            for job in await self._claim(free) if free > 0 else []:
                if job.id not in self._running:  # else its lease ran out under it here: the claim renewed it
                    self._running[job.id] = loop.create_task(self._run(job))
            self._claiming = False
            if loop.time() >= renew_at:
                await self._renew()
                renew_at = loop.time() + self.lease.total_seconds() / 3
            # A finished job wakes this too, so a full batch is followed by the next at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), POLL_SECONDS)

    async def _claim(self, limit: int) -> list[Claimed]:
        try:
            return await run_in_session(
                queue.claim, self.owner, at=clock.now(), lease=self.lease, limit=limit
            )
        except Exception:
            log.exception("could not claim jobs; trying again shortly")
            return []

    async def _renew(self) -> None:
        ids = list(self._running)
        if not ids:
            return
        try:
            held = await run_in_session(queue.renew, ids, self.owner, until=clock.now() + self.lease)
        except Exception:
            log.exception("could not renew job leases")
            return
        for lost in set(ids) - held:
            task = self._running.get(lost)  # None: it finished while the renewal was under way
            if task is not None:
                log.warning("job %s was taken over by another process; stopping it here", lost)
                task.cancel()

    async def _run(self, job: Claimed) -> None:
        try:
            handler = self.handlers.get(job.kind)
            if handler is None:
                await self._finish(job, f"no handler for job kind {job.kind!r}")
                return
            await handler(job)
            await run_in_session(queue.finish, job.id, self.owner, at=clock.now())
        except asyncio.CancelledError:
            raise
        except faults.Crash as crash:  # a test's stand-in for a dead process: keep the lease
            log.warning("job %s 'crashed' at %s; it is taken over when its lease runs out", job.id, crash)
        except WarroomError as exc:
            if is_transient(exc) and job.attempts < MAX_ATTEMPTS:
                await self._again(job, exc.user_message)
            else:
                await self._finish(job, exc.user_message, told=exc.user_message)
        except Exception as exc:
            if job.attempts < MAX_ATTEMPTS:
                log.warning("job %s (%s) attempt %d failed: %r", job.id, job.kind, job.attempts, exc)
                await self._again(job, repr(exc))
            else:
                log.exception("job %s (%s) failed for good", job.id, job.kind)
                await self._finish(job, repr(exc), told=FAILED_TEXT)
        finally:
            self._running.pop(job.id, None)
            self._ended += 1
            self.wake()

    async def _again(self, job: Claimed, error: str) -> None:
        delay = min(BACKOFF_CAP_SECONDS, 2.0**job.attempts) * random.uniform(0.5, 1.0)
        when = clock.now() + timedelta(seconds=delay)
        await run_in_session(queue.retry_later, job.id, self.owner, run_after=when, error=error[:2000])

    async def _finish(self, job: Claimed, error: str, *, told: str | None = None) -> None:
        await run_in_session(queue.finish, job.id, self.owner, at=clock.now(), error=error[:2000])
        if told is not None and self._tell is not None and job.tell:
            try:
                await self._tell(job, told)
            except Exception:
                log.exception("could not tell anyone that job %s failed", job.id)

    def wait_idle(self, timeout: float) -> bool:
        """Block a thread other than the loop's until no job is due, and none is running here;
        False on timeout. A job leased by another process, live or dead, is its business."""
        deadline = time.monotonic() + timeout
        while not self._idle():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _idle(self) -> bool:
        # A job may end, having recorded the next, while the table is read: look on both sides.
        ended = self._ended
        if self._claiming or self._running or in_session(queue.busy, at=clock.now()):
            return False
        return ended == self._ended and not self._claiming and not self._running

    async def stop(self, grace: float = 20.0) -> None:
        """Stop claiming, let running jobs finish within `grace` seconds, give back the rest."""
        self._stopping = True
        self.wake()
        if self._loop_task is not None:
            await asyncio.gather(self._loop_task, return_exceptions=True)
        if self._running:
            await asyncio.wait(list(self._running.values()), timeout=grace)
        for task in list(self._running.values()):
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)
        released = await run_in_session(queue.release, self.owner, at=clock.now())
        if released:
            log.info("gave back %d unfinished job(s) for another process to run", released)
