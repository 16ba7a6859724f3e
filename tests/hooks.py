"""A webhook endpoint on loopback for the fakes' deliveries: keeps each one and answers `status`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.http.runner import ServerThread


class Receiver:
    """Keeps every delivery (headers, raw body) and answers each with `status`."""

    def __init__(self, status: int = 202) -> None:
        self.status = status
        self.got: list[tuple[dict[str, str], bytes]] = []
        app = Starlette(routes=[Route("/hooks", self._take, methods=["POST"])])
        self.server = ServerThread(app, lifespan="off", name="hook-receiver")

    @property
    def url(self) -> str:
        return f"{self.server.url}/hooks"

    async def _take(self, request: Request) -> Response:
        self.got.append((dict(request.headers), await request.body()))
        return Response(status_code=self.status)
