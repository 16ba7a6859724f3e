"""A fake automation endpoint on 127.0.0.1 that remediation webhooks call: it counts calls."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot.http.runner import ServerThread


@dataclass(frozen=True)
class Hit:
    """One call the endpoint received."""

    path: str
    idempotency_key: str | None
    body: dict[str, Any]


class AutomationEndpoint:
    """`POST /<anything>` answers 200; `/fail` (or any path while `failing`) 500; `/redirect`
    302; `/slow` sleeps 5 s."""

    def __init__(self) -> None:
        self.failing = False  # the target is broken now: every call fails
        self._hits: list[Hit] = []
        self._lock = threading.Lock()
        self.server = ServerThread(
            Starlette(routes=[Route("/{path:path}", self._answer, methods=["POST"])]),
            lifespan="off",
            name="automation",
        )

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`, for WARROOM_REMEDIATION_HOSTS."""
        return f"127.0.0.1:{self.server.port}"

    @property
    def hits(self) -> list[Hit]:
        """Every call so far."""
        with self._lock:
            return list(self._hits)

    async def _answer(self, request: Request) -> Response:
        path = "/" + request.path_params["path"]
        body = await request.json() if await request.body() else {}
        with self._lock:
            self._hits.append(Hit(path, request.headers.get("idempotency-key"), body))
        if path == "/redirect":
            return RedirectResponse("/elsewhere", status_code=302)
        if path == "/slow":
            await asyncio.sleep(5)
        if path == "/fail" or self.failing:
            return JSONResponse({"error": "pods not ready"}, status_code=500)
        return JSONResponse({"ok": True, "done": path})

    def start(self) -> None:
        """Serve."""
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()
