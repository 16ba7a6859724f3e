"""Outgoing webhooks: every subscribed endpoint gets the timeline's events in order, signed per
the Standard Webhooks specification (`webhook-id`, `webhook-timestamp`, `webhook-signature`).

The timeline is the outbox: a change and its timeline event commit together, so an event is
never lost, and each endpoint's cursor moves past an event only once it was delivered (a 2xx),
so none is skipped. One process sends to an endpoint at a time (a lease in its row), so
replicas never send an event twice at once. Deliveries are recorded together (every 50, or a
quarter of a second); a process that dies before recording some sends them again with the same
`webhook-id`, which receivers use to drop the repeat. A failure is tried again at once a few
times, then with exponential backoff (the endpoint waits: order holds) for up to 24 hours, then
given up and logged. Only hosts in `WARROOM_WEBHOOK_HOSTS` are called, under the same rules as
remediation webhooks (https, no private addresses, no redirects, timeouts).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta

import httpx
from standardwebhooks import Webhook

from bot import clock
from bot.adapters.executors import ExecutorPolicy, RefusedTarget, client_for, post_signed
from bot.deps import Deps
from bot.webhooks.events import event_type, payload
from bot.webhooks.progress import (
    Attempt,
    backoff,
    claim,
    newest_event,
    pending,
    record_attempts,
    release,
    sync_endpoints,
)
from bot.webhooks.subscriptions import Endpoint
from storage.models import Incident, TimelineEvent
from storage.session import run_in_session

log = logging.getLogger(__name__)
POLL_SECONDS = 0.5
SETTLE_SECONDS = 2.0  # Postgres: an id is taken at insert, visible at commit; wait out the gap
BATCH = 200
LEASE = timedelta(seconds=60)
TIMEOUT = 10.0  # seconds a receiver has to answer
HOLD_SECONDS = 1.0  # a shorter backoff is waited out here, holding the endpoint
FLUSH_EVERY, FLUSH_SECONDS = 50, 0.25  # deliveries recorded together: a crash resends at most these


class Sender:
    """Delivers to every configured endpoint from this process, sharing the work with replicas."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.endpoints = deps.subscriptions.endpoints
        self.owner = deps.jobs.owner
        self.policy = ExecutorPolicy(
            allowed_hosts=frozenset(deps.settings.warroom_webhook_hosts),
            allow_http_hosts=frozenset(deps.settings.warroom_webhook_http_hosts),
            total_timeout=TIMEOUT,
            allowlist="the webhook allowlist (WARROOM_WEBHOOK_HOSTS)",
        )
        self._serial = deps.settings.database_url.startswith("sqlite")  # one writer: ids commit in order
        self._seen: deque[tuple[float, int]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    def start(self) -> None:
        """Begin delivering on the running loop (nothing to do without endpoints)."""
        if self.endpoints:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        """Stop after the deliveries under way."""
        self._stopping.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        names = [endpoint.name for endpoint in self.endpoints]
        await run_in_session(sync_endpoints, names, clock.now())
        await asyncio.gather(*(self._follow(endpoint) for endpoint in self.endpoints))

    async def _follow(self, endpoint: Endpoint) -> None:
        """Serve one endpoint whenever it is due, apart from the others (one slow or failing
        receiver never holds up another)."""
        while not self._stopping.is_set():
            try:
                await self._serve(endpoint, await self._horizon())
            except Exception:
                log.exception("outgoing webhooks to %s: a round failed; trying again shortly", endpoint.name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), POLL_SECONDS)

    async def _horizon(self) -> int:
        """The newest event every transaction before it has surely committed by."""
        newest = await run_in_session(newest_event)
        if self._serial:
            return newest
        now = time.monotonic()
        self._seen.append((now, newest))
        while len(self._seen) > 1 and self._seen[1][0] <= now - SETTLE_SECONDS:
            self._seen.popleft()
        seen_at, settled = self._seen[0]
        return settled if seen_at <= now - SETTLE_SECONDS else 0

    async def _serve(self, endpoint: Endpoint, horizon: int) -> None:
        claimed = await run_in_session(claim, endpoint.name, self.owner, at=clock.now(), lease=LEASE)
        if claimed is None:
            return
        cursor, tries = claimed
        try:
            async with client_for(self.policy, TIMEOUT) as client:  # kept alive for the round
                while cursor < horizon and not self._stopping.is_set():
                    batch = await run_in_session(pending, cursor, horizon, BATCH)
                    if not batch or not await self._send_batch(endpoint, batch, client, tries):
                        return
                    last = batch[-1][0].id
                    assert last is not None
                    cursor, tries = last, 0
        finally:
            await run_in_session(release, endpoint.name, self.owner)

    async def _send_batch(
        self,
        endpoint: Endpoint,
        batch: list[tuple[TimelineEvent, Incident]],
        client: httpx.AsyncClient,
        tries: int,
    ) -> bool:
        """Send the events it subscribes to, in order, waiting out short backoffs here; False
        when one must wait longer (the endpoint is due again later). `tries`: the failed
        attempts of the first event so far. Attempts are recorded together."""
        attempts: list[Attempt] = []
        recorded = time.monotonic()
        for event, incident in batch:
            assert event.id is not None
            kind = event_type(event)
            if kind is None or not endpoint.wants(kind):
                continue
            while not (attempt := await self._post(endpoint, event, incident, kind, client)).delivered:
                attempts.append(attempt)
                tries += 1
                wait = backoff(tries).total_seconds()
                if wait > HOLD_SECONDS or self._stopping.is_set():
                    if await self._record(endpoint, attempts, past=event.id - 1) is not None:
                        return False
                    attempts, tries = [], 0  # given up after a day of failures: on to the next
                    break
                await asyncio.sleep(wait)
            else:
                attempts.append(attempt)
                tries = 0
            if len(attempts) >= FLUSH_EVERY or time.monotonic() - recorded > FLUSH_SECONDS:
                await self._record(endpoint, attempts, past=event.id)
                attempts, recorded = [], time.monotonic()
        last = batch[-1][0].id
        assert last is not None
        await self._record(endpoint, attempts, past=last)  # past the events it does not subscribe to, too
        return True

    async def _record(self, endpoint: Endpoint, attempts: list[Attempt], *, past: int) -> float | None:
        return await run_in_session(
            record_attempts, endpoint.name, self.owner, attempts, past=past, at=clock.now(), lease=LEASE
        )

    async def _post(
        self,
        endpoint: Endpoint,
        event: TimelineEvent,
        incident: Incident,
        kind: str,
        client: httpx.AsyncClient,
    ) -> Attempt:
        """One signed POST of the event."""
        assert event.id is not None
        body = json.dumps(payload(event, incident, private_allowed=endpoint.private), separators=(",", ":"))
        message_id = f"msg_warroom_{event.id}"
        stamp = datetime.now(UTC)  # the receiver checks it against its own clock
        headers = {
            "webhook-id": message_id,
            "webhook-timestamp": str(int(stamp.timestamp())),
            "webhook-signature": Webhook(endpoint.secret()).sign(message_id, stamp, body),
        }
        try:
            status, detail, took = await post_signed(
                endpoint.url, body.encode(), headers, policy=self.policy, total=TIMEOUT, client=client
            )
        except RefusedTarget as exc:
            status, detail, took = None, exc.user_message, 0  # logged; retried: the allowlist may change
        delivered = status is not None and 200 <= status < 300
        if not delivered:
            log.warning("webhook %s to %s: %s", message_id, endpoint.name, detail)
        return Attempt(event.id, message_id, kind, status, delivered, detail, took)
