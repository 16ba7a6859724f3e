"""Webhook deliveries stored before they are answered, for every alert source: the body read
with a cap, the answer's shape, and the group commit that stores what arrives together."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from bot import clock
from bot.flows.alerts import store_and_record
from storage.session import run_before_ack


async def read_capped(request: Request, most: int) -> bytes | Response:
    """The body, or a 413 as soon as it is known to be over `most` bytes (read no further)."""
    too_large = answer(413, f"body over {most} bytes")
    if int(request.headers.get("content-length") or 0) > most:
        return too_large
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > most:
                return too_large
            chunks.append(chunk)
    except ClientDisconnect:
        return answer(400, "the body ended early")
    return b"".join(chunks)


def answer(status: int, message: str) -> Response:
    """A webhook's answer: JSON saying what happened."""
    return JSONResponse({"message": message}, status_code=status)


class GroupCommit:
    """Stores deliveries that arrive together in one transaction, with the job that processes
    them, then answers each of them.

    A delivery is still durable before its 2xx; a storm costs one commit per group, not per event.
    """

    def __init__(self, wake: Callable[[], None], most: int = 200) -> None:
        self._wake, self._most = wake, most
        self._waiting: list[tuple[str, str, asyncio.Future[bool]]] = []
        self._writing = False

    async def store(self, delivery_id: str, body: str) -> bool:
        """Store one delivery with whatever else is waiting; False if it was seen before."""
        stored: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((delivery_id, body, stored))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write())
        return await stored

    async def _write(self) -> None:
        try:
            while self._waiting:
                group, self._waiting = self._waiting[: self._most], self._waiting[self._most :]
                try:
                    results = await run_before_ack(
                        store_and_record, [(d, b) for d, b, _ in group], clock.now()
                    )
                except Exception as exc:
                    for _, _, stored in group:
                        stored.set_exception(exc)
                    continue
                self._wake()
                for (_, _, stored), result in zip(group, results, strict=True):
                    stored.set_result(result)
        finally:
            self._writing = False
