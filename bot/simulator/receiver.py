"""A receiver of outgoing webhooks on 127.0.0.1 that checks every delivery as a careful
integrator would: the Standard Webhooks signature (with the `standardwebhooks` library itself,
timestamp within 5 minutes), the JSON body, and repeats by `webhook-id`. It can be broken on
purpose: down (503 to everything), or failing a share of requests (500)."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.http.runner import ServerThread


@dataclass
class Received:
    """What the receiver saw: accepted events in arrival order, every attempt, refusals."""

    events: list[dict[str, Any]] = field(default_factory=list)  # verified, first copy of each id
    ids: list[str] = field(default_factory=list)
    attempts: int = 0
    repeats: int = 0  # a webhook-id seen before (a redelivery the receiver drops)
    bad_signatures: int = 0


class WebhookReceiver:
    """`POST /hook` verified with `secret`; `down` answers 503, `fail_share` of requests 500."""

    def __init__(self, secret: str, *, seed: int = 7) -> None:
        self.secret = secret
        self.down = False
        self.fail_share = 0.0
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._seen = Received()
        self.server = ServerThread(
            Starlette(routes=[Route("/hook", self._answer, methods=["POST"])]),
            lifespan="off",
            name="receiver",
        )

    @property
    def host(self) -> str:
        """`127.0.0.1:<port>`, for WARROOM_WEBHOOK_HOSTS."""
        return f"127.0.0.1:{self.server.port}"

    @property
    def url(self) -> str:
        """Where to send."""
        return f"http://{self.host}/hook"

    @property
    def received(self) -> Received:
        """A copy of what arrived so far."""
        with self._lock:
            seen = self._seen
            return Received(
                list(seen.events), list(seen.ids), seen.attempts, seen.repeats, seen.bad_signatures
            )

    async def _answer(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self._seen.attempts += 1
            if self.down:
                return JSONResponse({"error": "down for maintenance"}, status_code=503)
            if self.fail_share and self._random.random() < self.fail_share:
                return JSONResponse({"error": "try again"}, status_code=500)
            try:
                event = Webhook(self.secret).verify(body, dict(request.headers))
            except WebhookVerificationError:
                self._seen.bad_signatures += 1
                return JSONResponse({"error": "bad signature"}, status_code=401)
            message_id = request.headers["webhook-id"]
            if message_id in self._seen.ids:
                self._seen.repeats += 1
            else:
                self._seen.ids.append(message_id)
                self._seen.events.append(event)
        return Response(status_code=204)

    def start(self) -> None:
        """Serve."""
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()
