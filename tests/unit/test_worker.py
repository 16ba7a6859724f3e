"""The worker's `once` jobs: one at a time, and once more for what arrived while one ran."""

from __future__ import annotations

import asyncio

from bot.worker import Worker


def test_once_jobs_never_overlap_and_rerun_once_for_work_that_arrived_meanwhile():
    async def scenario() -> tuple[int, int]:
        worker = Worker(concurrency=8)
        running, most, runs = 0, 0, 0
        release = asyncio.Event()

        async def drain() -> None:
            nonlocal running, most, runs
            running += 1
            most, runs = max(most, running), runs + 1
            await release.wait()
            running -= 1

        worker.submit(drain, name="drain", once=True)
        await asyncio.sleep(0)  # the first drain starts
        for _ in range(10):  # a storm while it runs: one more drain, not ten
            worker.submit(drain, name="drain", once=True)
        release.set()
        await worker.drain()
        return most, runs

    assert asyncio.run(scenario()) == (1, 2)
