"""Alert storm benchmark: 10,000 signed PagerDuty webhook deliveries for 3,000 distinct alerts
sent to `warroom serve` (its own process) by 50 concurrent senders; prints events processed per
second end to end (first POST to last delivery processed) and whether de-duplication was exact.

Run: python bench/alerts.py   (a temporary SQLite file unless DATABASE_URL is set)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import func, text
from sqlmodel import col, select

from bot.http.runner import free_port
from bot.http.signing import pagerduty_signature
from bot.simulator import SlackSimulator
from storage.migrate import open_database, upgrade
from storage.models import Alert, WebhookDelivery
from storage.session import session_scope

EVENTS, DISTINCT, SENDERS = 10_000, 3_000, 50
SECRET = "whsec_bench"


def body(n: int, key: int) -> bytes:
    data = {
        "id": f"Q{key:06d}",
        "incident_key": f"alert-{key}",
        "title": f"Alert {key % 40} on host {key}",
        "service": {"id": f"PSVC{key % 20:03d}", "summary": f"Service {key % 20}"},
        "urgency": "low",
    }
    event = {
        "id": f"ev{n}",
        "event_type": "incident.triggered",
        "occurred_at": "2026-11-24T03:12:09Z",
        "data": data,
    }
    return json.dumps({"event": event}).encode()


async def storm(port: int) -> float:
    """Send every delivery over SENDERS keep-alive connections; the time the first was sent.

    The sender writes HTTP/1.1 by hand: httpx's async pool spends milliseconds of CPU per request
    at this concurrency, and on a 2-core machine the bench would measure itself.
    """
    keys = [n % DISTINCT for n in range(EVENTS)]
    random.Random(7).shuffle(keys)
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(EVENTS):
        queue.put_nowait(n)
    retries: list[int] = []

    def request(n: int) -> bytes:
        payload = body(n, keys[n])
        head = (
            f"POST /pagerduty/webhook HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
            f"x-webhook-id: delivery-{n}\r\n"
            f"x-pagerduty-signature: {pagerduty_signature(SECRET, payload)}\r\n\r\n"
        )
        return head.encode() + payload

    async def sender() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while not queue.empty():
            n = queue.get_nowait()
            for attempt in range(5):  # as PagerDuty does, a dropped connection is retried
                try:
                    writer.write(request(n))
                    status = int((await reader.readuntil(b"\r\n")).split()[1])
                    headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
                    length = int(headers.split("content-length:")[1].split("\r\n")[0])
                    await reader.readexactly(length)
                    break
                except (OSError, asyncio.IncompleteReadError):
                    retries.append(n)
                    writer.close()
                    await asyncio.sleep(0.1 * (attempt + 1))
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
            assert status in (200, 202), status
        writer.close()

    started = time.monotonic()
    await asyncio.gather(*(sender() for _ in range(SENDERS)))
    if retries:
        print(f"({len(retries)} deliveries were retried after a dropped connection)")
    return started


def wait_processed(started: float) -> float:
    while True:
        with session_scope() as session:
            left = session.exec(
                select(func.count())
                .select_from(WebhookDelivery)
                .where(col(WebhookDelivery.processed_at).is_(None))
            ).one()
        if not left:
            return time.monotonic() - started
        time.sleep(0.05)


def main() -> int:
    simulator = SlackSimulator()
    simulator.start()
    with tempfile.TemporaryDirectory() as workdir:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(workdir) / 'bench.db'}"
        upgrade(url)
        engine = open_database(url)
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM alert_events"))
            connection.execute(text("DELETE FROM alerts"))
            connection.execute(text("DELETE FROM webhook_deliveries"))
            connection.execute(text("DELETE FROM jobs"))
        rules = Path(workdir) / "triage.yaml"
        rules.write_text("default: ignore\n")
        port = free_port()
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": simulator.token,
            "SLACK_SIGNING_SECRET": secrets.token_hex(8),
            "SLACK_API_URL": simulator.base_url,
            "DATABASE_URL": url,
            "PORT": str(port),
            "PAGERDUTY_WEBHOOK_SECRETS": SECRET,
            "WARROOM_TRIAGE_RULES": str(rules),
        }
        server = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            for _ in range(300):
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            else:
                raise SystemExit("warroom serve did not become healthy within 30 s")
            started = asyncio.run(storm(port))
            accepted = time.monotonic() - started
            elapsed = wait_processed(started)
            print(f"all {EVENTS} deliveries answered 2xx in {accepted:.1f} s ({EVENTS / accepted:.0f}/s)")
            with session_scope() as session:
                alerts = session.exec(select(func.count()).select_from(Alert)).one()
                counted = session.exec(select(func.sum(Alert.count))).one()
            exact = alerts == DISTINCT and counted == EVENTS
            database = "Postgres" if url.startswith("postgresql") else "SQLite"
            print(
                f"{database}: {EVENTS} events ({DISTINCT} distinct alerts) processed in {elapsed:.1f} s: "
                f"{EVENTS / elapsed:.0f} events/s; {alerts} alerts counting {counted} events: "
                f"dedup {'exact' if exact else 'NOT exact'}"
            )
        finally:
            server.terminate()
            server.wait(timeout=20)
            simulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
