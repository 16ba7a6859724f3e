"""Alert storm benchmarks against `warroom serve` (its own process), 50 concurrent senders; each
prints alerts processed per second end to end (first POST to last delivery processed) and
whether de-duplication was exact.

- `pagerduty`: 10,000 signed PagerDuty deliveries for 3,000 distinct alerts.
- `alertmanager`: 10,000 Alertmanager alerts in 500 grouped webhooks (20 alerts each, bearer
  token), every group sent twice as Alertmanager's retry would: 10,000 alerts counted once each.
- `triage`: how long deciding one alert takes against 1,000 rules (none of which matches, the
  worst case), no server.

Run: python bench/alerts.py [pagerduty|alertmanager|triage]   (all three by default; a temporary
SQLite file unless DATABASE_URL is set; BENCH_WORKERS=2 serves with `--workers 2` on Postgres)
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from served import served
from sqlalchemy import func, text
from sqlmodel import col, select

from bot.alerts.sources import Signal
from bot.alerts.triage import Rule, RuleMatch, Rules
from bot.http.signing import pagerduty_signature
from bot.simulator import SlackSimulator
from storage.migrate import open_database, upgrade
from storage.models import Alert, WebhookDelivery
from storage.session import session_scope

EVENTS, DISTINCT, SENDERS = 10_000, 3_000, 50
GROUPS, PER_GROUP = 500, 20
SECRET, TOKEN = "whsec_bench", "am_bench_token"
Request = tuple[str, dict[str, str], bytes]  # path, headers, body
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))  # `warroom serve --workers` (Postgres only)


def pagerduty_requests() -> list[Request]:
    """PagerDuty's storm: EVENTS deliveries of DISTINCT alerts, shuffled."""
    keys = [n % DISTINCT for n in range(EVENTS)]
    random.Random(7).shuffle(keys)
    requests = []
    for n in range(EVENTS):
        payload = body(n, keys[n])
        headers = {
            "x-webhook-id": f"delivery-{n}",
            "x-pagerduty-signature": pagerduty_signature(SECRET, payload),
        }
        requests.append(("/pagerduty/webhook", headers, payload))
    return requests


def alertmanager_requests() -> list[Request]:
    """Alertmanager's storm: GROUPS notifications of PER_GROUP firing alerts, each sent twice."""
    requests = []
    for group in range(GROUPS):
        alerts = [
            {
                "status": "firing",
                "labels": {"alertname": f"Rule{group % 25}", "job": f"svc-{group % 20}", "instance": f"h{n}"},
                "annotations": {"summary": f"Rule {group % 25} firing on h{n}"},
                "startsAt": "2026-11-24T03:02:15.218Z",
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example.com:9090/graph",
                "fingerprint": f"{group:08x}{n:08x}",
            }
            for n in range(PER_GROUP)
        ]
        notification = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="Rule{group % 25}"}}',
            "status": "firing",
            "receiver": "warroom",
            "externalURL": "http://alertmanager.example.com:9093",
            "alerts": alerts,
        }
        payload = json.dumps(notification).encode()
        requests += [("/alerts/alertmanager", {"authorization": f"Bearer {TOKEN}"}, payload)] * 2
    random.Random(7).shuffle(requests)
    return requests


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


async def storm(port: int, requests: list[Request]) -> float:
    """Send every request over SENDERS keep-alive connections; the time the first was sent.

    The sender writes HTTP/1.1 by hand: httpx's async pool spends milliseconds of CPU per request
    at this concurrency, and on a 2-core machine the bench would measure itself.
    """
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(len(requests)):
        queue.put_nowait(n)
    retries: list[int] = []

    def request(n: int) -> bytes:
        path, headers, payload = requests[n]
        head = (
            f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1:{port}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(payload)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
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


def server_storm(name: str) -> None:
    """Run one storm against a fresh `warroom serve` and print what it measured."""
    requests, alerts_expected, hits_expected = (
        (pagerduty_requests(), DISTINCT, EVENTS)
        if name == "pagerduty"
        else (alertmanager_requests(), GROUPS * PER_GROUP, GROUPS * PER_GROUP)
    )
    simulator = SlackSimulator()
    simulator.start()
    with tempfile.TemporaryDirectory() as workdir:
        url = os.environ.get("DATABASE_URL") or f"sqlite:///{Path(workdir) / 'bench.db'}"
        upgrade(url)
        engine = open_database(url)
        with engine.begin() as connection:
            for name_ in ("alert_events", "triage_overrides", "alerts", "webhook_deliveries", "jobs"):
                connection.execute(text(f"DELETE FROM {name_}"))
        rules = Path(workdir) / "triage.yaml"
        rules.write_text("default: ignore\n")
        try:
            with served(
                simulator,
                url,
                "--workers",
                str(WORKERS),
                PAGERDUTY_WEBHOOK_SECRETS=SECRET,
                WARROOM_ALERTMANAGER_TOKEN=TOKEN,
                WARROOM_TRIAGE_RULES=str(rules),
            ) as base:
                port = int(base.rsplit(":", 1)[1])
                started = asyncio.run(storm(port, requests))
                accepted = time.monotonic() - started
                elapsed = wait_processed(started)
                print(f"{name}: all {len(requests)} requests answered 2xx in {accepted:.1f} s")
                with session_scope() as session:
                    alerts = session.exec(select(func.count()).select_from(Alert)).one()
                    counted = session.exec(select(func.sum(Alert.count))).one()
                exact = alerts == alerts_expected and counted == hits_expected
                database = "Postgres" if url.startswith("postgresql") else "SQLite"
                database += f", {WORKERS} worker{'s' if WORKERS > 1 else ''}"
                print(
                    f"{name} on {database}: {hits_expected} alerts ({alerts_expected} distinct) processed in "
                    f"{elapsed:.1f} s: {hits_expected / elapsed:.0f} alerts/s; {alerts} alerts counting "
                    f"{counted}: dedup {'exact' if exact else 'NOT exact'}"
                )
        finally:
            simulator.stop()


def triage_speed() -> None:
    """Decide alerts against 1,000 rules: 900 for one service or alert name each, 100 globs on
    titles that never match (always tried), and the matching rule last of all."""
    exact = [
        Rule(name=f"svc-{n}", match=RuleMatch(service=f"service-{n}", severity="critical"), triage="high")
        if n % 2
        else Rule(name=f"alert-{n}", match=RuleMatch(source="alertmanager", alert=f"Rule{n}"), triage="low")
        for n in range(900)
    ]
    globs = [
        Rule(name=f"glob-{n}", match=RuleMatch(title=f"*disk {n} *"), triage="ignore") for n in range(99)
    ]
    last = Rule(name="team-payments", match=RuleMatch(labels={"team": "pay*"}), triage="low")
    rules = Rules(rules=(*exact, *globs, last), default="high")
    signals = [
        Signal(
            source="alertmanager",
            key=f"alertmanager:{n:016x}",
            status="firing",
            name=f"Rule{n % 1000}",
            title="Checkout is serving HTTP 5xx errors",
            service=f"service-{n % 1000}",
            labels={"team": "payments", "severity": "warning"},
            at=datetime.now(UTC),
        )
        for n in range(5000)
    ]
    started = time.perf_counter()
    decisions = [rules.decide(signal) for signal in signals]
    per_alert = (time.perf_counter() - started) / len(signals)
    expected = [
        "alert-" + str(n % 1000) if n % 1000 < 900 and n % 2 == 0 else "team-payments" for n in range(5000)
    ]
    assert [rule.name if rule else None for _, rule in decisions] == expected
    print(f"triage: {per_alert * 1000:.3f} ms per alert against {len(rules.rules)} rules (target < 1 ms)")


def main() -> int:
    wanted = sys.argv[1:] or ["triage", "alertmanager", "pagerduty"]
    for name in wanted:
        if name == "triage":
            triage_speed()
        elif name in ("pagerduty", "alertmanager"):
            server_storm(name)
        else:
            raise SystemExit(f"unknown benchmark {name!r}: use pagerduty, alertmanager or triage")
    return 0


if __name__ == "__main__":
    sys.exit(main())
