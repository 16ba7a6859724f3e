"""A bounded worker for the slow part of a request, run after Slack has its ack."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Awaitable, Callable
from typing import Any

from bot.errors import WarroomError

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]
OnError = Callable[[BaseException], Awaitable[Any]]


class WorkerBusy(WarroomError):
    """The queue is full; the person should try again shortly."""


class Worker:
    """Runs jobs on the event loop, at most `concurrency` at once and `capacity` queued.

    Bolt's own listener pool is not used: a slow Slack call must never hold an ack.
    """

    def __init__(self, concurrency: int = 8, capacity: int = 1000) -> None:
        self._concurrency = concurrency
        self._capacity = capacity
        self._semaphore: asyncio.Semaphore | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = threading.Condition()
        self._waiting: set[str] = set()  # `once` jobs queued, not started
        self._running: set[str] = set()  # `once` jobs running
        self._again: set[str] = set()  # `once` jobs to run once more when they finish

    def submit(
        self,
        job: Job,
        *,
        on_error: OnError | None = None,
        name: str = "job",
        once: bool = False,
        urgent: bool = False,
    ) -> None:
        """Queue `job`; raise `WorkerBusy` when the queue is full. Call from the event loop.

        An `urgent` job starts at once, outside the concurrency limit: opening a form must not
        wait behind background work, because its trigger id dies 3 s after the click.

        `on_error` tells someone a `WarroomError` and logs it (a refusal is not the worker's
        to log as a failure); any other exception is logged here with its stack, then reported.

        With `once`, jobs of that name run one at a time: while one waits to start this call is
        a no-op, and while one runs it runs once more afterwards (for what arrived meanwhile).
        A storm of webhooks makes one drain at a time, not ten thousand side by side.
        """
        if once and name in self._waiting:
            return
        if once and name in self._running:
            self._again.add(name)
            return
        if len(self._tasks) >= self._capacity and not urgent:
            raise WorkerBusy("Warroom is very busy right now; try again in a minute.")
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self._concurrency)
        if once:
            self._waiting.add(name)
        run = self._attempt(job, on_error, name) if urgent else self._run(job, on_error, name, once)
        task = asyncio.get_running_loop().create_task(run)
        with self._idle:
            self._tasks.add(task)
        task.add_done_callback(self._forget)

    async def _run(self, job: Job, on_error: OnError | None, name: str, once: bool) -> None:
        assert self._semaphore is not None
        async with self._semaphore:
            if not once:
                await self._attempt(job, on_error, name)
                return
            self._waiting.discard(name)
            self._running.add(name)
            try:
                while True:
                    await self._attempt(job, on_error, name)
                    if name not in self._again:
                        break
                    self._again.discard(name)
            finally:
                self._running.discard(name)

    async def _attempt(self, job: Job, on_error: OnError | None, name: str) -> None:
        try:
            await job()
        except WarroomError as exc:
            if on_error is None:
                log.warning("%s did not complete: %s", name, exc)  # no stack: Warroom's own sentence
            else:
                await self._report(on_error, exc, name)  # it tells the person, and logs what it told
        except Exception as exc:
            log.exception("%s failed: %s", name, exc)
            if on_error is not None:
                await self._report(on_error, exc, name)

    @staticmethod
    async def _report(on_error: OnError, exc: BaseException, name: str) -> None:
        try:
            await on_error(exc)
        except Exception:
            log.exception("could not report the failure of %s", name)

    def _forget(self, task: asyncio.Task[None]) -> None:
        with self._idle:
            self._tasks.discard(task)
            self._idle.notify_all()

    @property
    def pending(self) -> int:
        """Jobs queued or running."""
        return len(self._tasks)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block a thread other than the loop's until no job is left; False on timeout."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._tasks, timeout=timeout)

    async def drain(self) -> None:
        """Wait, on the loop, for every job submitted so far."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
