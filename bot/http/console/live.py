"""Live incident pages: a Server-Sent Events stream that says "change" as soon as anything about
an open incident moves (a command in Slack, a button, an alert), on whichever replica it
happened. Each stream polls the database's change mark once a second; the page then fetches
itself again. A closed incident's stream answers 204, which tells the browser to stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from bot.api.record import change_mark
from bot.http.console.auth import Viewer
from bot.http.console.pages import Pages
from storage.models import Incident
from storage.session import run_in_session

POLL_SECONDS = 1.0
KEEPALIVE_SECONDS = 15.0
STREAM_SECONDS = 300.0  # the browser reconnects by itself; a stream never outlives a deploy by much


async def live(pages: Pages, request: Request, viewer: Viewer) -> Response:
    """`GET /incidents/INC-n/live?mark=…`: one `change` event when the incident's mark differs."""
    found = await pages.find(request, viewer)
    if found is None:
        return Response(status_code=404)
    incident = found
    if incident.closed_at is not None:
        return Response(status_code=204)
    shown = request.query_params.get("mark", "")
    return StreamingResponse(
        _changes(request, incident, shown),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def _changes(request: Request, incident: Incident, shown: str) -> AsyncIterator[str]:
    assert incident.id is not None
    yield "retry: 2000\n\n"
    started = last_sent = time.monotonic()
    while time.monotonic() - started < STREAM_SECONDS:
        if await request.is_disconnected():
            return
        mark = await run_in_session(change_mark, incident.id)
        if mark != shown:
            yield f"event: change\ndata: {mark}\n\n"
            return
        if time.monotonic() - last_sent > KEEPALIVE_SECONDS:
            yield ": still open\n\n"
            last_sent = time.monotonic()
        await asyncio.sleep(POLL_SECONDS)
