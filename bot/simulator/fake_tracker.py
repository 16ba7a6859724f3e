"""What the strict fakes of issue trackers (`github.py`, `jira.py`) share: a server on 127.0.0.1 that
logs every request, answers the next few with an injected failure, and sends signed webhook
deliveries that it logs and can send again under the same delivery id.

Each tracker refuses in its own words and error shape; this module fixes only the order a request
goes through (logged, then an injected failure, then the tracker's screening, then its routes under
the lock) and how a delivery is posted: synchronously, so a test sees the receiver's answer."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.http.runner import ServerThread


def load_facts(name: str) -> dict[str, Any]:
    """A facts file beside this module (`github.json`, `jira.json`), each fact with its source."""
    return dict(json.loads(Path(__file__).with_name(name).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class TrackerRequest:
    """One request a fake tracker received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any  # the parsed body, None when absent or not JSON
    authorized: bool  # the request carried the fake's own credentials


class Logged(Protocol):
    """A delivery as a fake logs it: what a redelivery finds it by."""

    @property
    def id(self) -> str: ...


class TrackerRefusal(Exception, ABC):
    """A request the tracker refuses; a subclass answers it in that tracker's error shape."""

    @abstractmethod
    def response(self) -> Response:
        """The answer the tracker gives."""


R = TypeVar("R", bound=TrackerRequest)
D = TypeVar("D", bound=Logged)


class FakeTracker(ABC, Generic[R, D]):
    """A fake tracker's server, its logs of requests (`R`) and deliveries (`D`), and its failures."""

    def __init__(self, record: type[R], *, name: str, methods: list[str], delivery_timeout: float) -> None:
        self.requests: list[R] = []
        self.deliveries: list[D] = []
        self._record = record
        self._delivery_timeout = delivery_timeout
        self._failures: list[int] = []
        self._lock = threading.Lock()
        route = Route("/{path:path}", self._answer, methods=methods)
        self.server = ServerThread(Starlette(routes=[route]), lifespan="off", name=name)

    @property
    def base_url(self) -> str:
        """The root the API is served under (what api.github.com is to GitHub, a site to Jira)."""
        return self.server.url

    def start(self) -> None:
        """Serve."""
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def fail(self, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` API requests with `status` in the tracker's error shape."""
        HTTPStatus(status)  # a status HTTP names, for the message
        with self._lock:
            self._failures += [status] * times

    def redeliver(self, delivery_id: str) -> int:
        """Send a delivery again as the tracker does, under the same delivery id: the receiver's status."""
        with self._lock:
            sent = [d for d in self.deliveries if d.id == delivery_id]
        if not sent:
            raise KeyError(delivery_id)
        return self._again(sent)

    def _forget(self) -> None:
        """Drop the logs and the failures still queued (the caller holds the lock)."""
        self.requests.clear()
        self.deliveries.clear()
        self._failures.clear()

    def _deliver(self, url: str, headers: dict[str, str], body: bytes, logged: Callable[[int], D]) -> int:
        """POST a delivery and log `logged(status)`: the receiver's HTTP status (0: no answer)."""
        try:  # synchronously, from the caller's thread: the test sees the receiver's answer
            with httpx.Client(timeout=self._delivery_timeout) as client:
                status = client.post(url, content=body, headers=headers).status_code
        except httpx.HTTPError:
            status = 0
        with self._lock:
            self.deliveries.append(logged(status))
        return status

    async def _answer(self, request: Request) -> Response:
        raw = await request.body()
        call = self._received(request, raw)
        with self._lock:
            self.requests.append(call)
            failure = self._failures.pop(0) if self._failures else None
        try:
            early = self._failed(failure) if failure is not None else self._screen(call, raw)
            if early is not None:
                return early
            with self._lock:
                return self._route(call, raw, str(request.url))
        except TrackerRefusal as refusal:
            return refusal.response()

    def _received(self, request: Request, raw: bytes) -> R:
        headers = dict(request.headers)
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = None
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        return self._record(
            request.method, request.url.path, query, headers, parsed, self._authorized(headers)
        )

    @abstractmethod
    def _authorized(self, headers: dict[str, str]) -> bool:
        """Whether the request carried the fake's own credentials."""

    @abstractmethod
    def _failed(self, status: int) -> Response:
        """The answer to a request that an injected failure takes."""

    @abstractmethod
    def _screen(self, call: R, raw: bytes) -> Response | None:
        """The answer to a request refused before routing (or its refusal raised); None to route it."""

    @abstractmethod
    def _route(self, call: R, raw: bytes, url: str) -> Response:
        """The answer to a request that passed the screening; called holding the lock."""

    @abstractmethod
    def _again(self, sent: list[D]) -> int:
        """Send again the delivery logged as `sent` (each sending so far, the first first)."""


def sign(secret: str, body: bytes) -> str:
    """The signature of `body` (GitHub's `X-Hub-Signature-256`, Jira's `X-Hub-Signature`): its
    HMAC-SHA256 with `secret`, in hex, after `sha256=`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def delivery_body(payload: dict[str, Any]) -> bytes:
    """A delivery's body as the trackers send it: compact JSON in UTF-8."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
