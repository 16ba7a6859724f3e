"""Declaration benchmark: `warroom serve` in its own process against the Slack simulator.

Prints, for SQLite and (when DATABASE_URL names one) Postgres: Slack calls per declaration;
the time from the command to the declarer invited and to the room ready, at 0 and 100 ms per
Slack call (targets at 100 ms: invited <= 215 ms, ready <= 345 ms); from a status change and
a resolve to their last job done at 100 ms per call (target <= 115 ms); and ack latency for 20
simultaneous declarations at 200 ms per Slack call (target p99 < 50 ms).

Run: python bench/declare.py   (a temporary SQLite file, then DATABASE_URL if it is Postgres:
an empty database, which is upgraded and written to)
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlmodel import col, select

from bot.http.runner import free_port
from bot.http.signing import slack_signature
from bot.simulator import SlackSimulator
from bot.simulator.sender import SlackSender
from storage.migrate import open_database, upgrade
from storage.models import Incident, Job
from storage.session import session_scope

NOT_WORK = ("auth.test", "response_url")


class ServedWarroom:
    """`warroom serve` in a child process, pointed at `simulator`."""

    def __init__(self, simulator: SlackSimulator, database_url: str) -> None:
        self.sim = simulator
        secret, port = secrets.token_hex(16), free_port()
        upgrade(database_url)
        open_database(database_url)
        with session_scope() as session:  # a new simulator's channel ids would clash with old rooms'
            if session.exec(select(Incident)).first() is not None:
                raise SystemExit(f"bench/declare.py needs an empty database, not {database_url}")
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": simulator.token,
            "SLACK_SIGNING_SECRET": secret,
            "SLACK_API_URL": simulator.base_url,
            "DATABASE_URL": database_url,
            "PORT": str(port),
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.person = SlackSender(f"http://127.0.0.1:{port}/slack/events", secret)
        self._wait_healthy(f"http://127.0.0.1:{port}/healthz")

    def _wait_healthy(self, url: str) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(url, timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError("warroom serve did not become healthy")

    def declare(self, text: str, user: str = "U0ALICE") -> int:
        """Send the command; return the incident number from the ack."""
        response = self.person.command(text, user=user, response_url=self.sim.response_url("bench"))
        return int(response.json()["text"].split()[1].removeprefix("INC-"))

    def wait_ready(self, numbers: list[int], timeout: float = 60) -> list[Incident]:
        """Poll the database until every incident's war room is ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with session_scope() as session:
                rows = list(session.exec(select(Incident).where(col(Incident.number).in_(numbers))))
            if len(rows) == len(numbers) and all(row.room_ready_at for row in rows):
                return rows
            time.sleep(0.005)
        raise TimeoutError("war rooms not ready")

    def wait_done(self, key: str, timeout: float = 30) -> Job:
        """Poll the database until the job recorded under `key` is done."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with session_scope() as session:
                job = session.exec(select(Job).where(Job.key == key)).first()
            if job is not None and job.state == "done":
                return job
            time.sleep(0.005)
        raise TimeoutError(f"job {key} not done")

    def slack_calls(self) -> list[str]:
        return [call.method for call in self.sim.calls if call.method not in NOT_WORK]

    def stop(self) -> None:
        self.person.close()
        self.process.terminate()
        self.process.wait(timeout=20)


def calls_per_declaration(app: ServedWarroom) -> tuple[int, int]:
    """Web API calls for a first declaration, and for a second by the same person."""
    counts = []
    for title in ("First outage", "Second outage"):
        app.sim.clear_calls()
        app.wait_ready([app.declare(f"declare sev2 {title}", user="U0BOB")])
        time.sleep(0.1)
        counts.append(len(app.slack_calls()))
    return counts[0], counts[1]


def time_to_ready(app: ServedWarroom, latency: float, user: str) -> tuple[float, float]:
    """Milliseconds from sending the command to the declarer invited and to the room ready."""
    app.sim.set_latency(latency)
    app.sim.clear_calls()
    started_wall, started = time.time(), time.monotonic()
    [incident] = app.wait_ready([app.declare("declare sev2 Checkout returns 500s", user=user)])
    invite = app.sim.calls_to("conversations.invite")[0]
    assert incident.room_ready_at is not None
    return (invite.at + latency - started) * 1000, (incident.room_ready_at.timestamp() - started_wall) * 1000


def time_to_done(app: ServedWarroom, text: str, incident: Incident, latency: float) -> float:
    """Milliseconds from sending a change command in the war room to its outcome shown."""
    app.sim.set_latency(latency)
    trigger = f"bench.{secrets.token_hex(6)}"
    started_wall = time.time()
    app.person.command(
        text,
        user=incident.declared_by,
        channel=incident.channel_id,
        trigger_id=trigger,
        response_url=app.sim.response_url("bench"),
    )
    done = app.wait_done(f"outcome:command:{trigger}")
    assert done.finished_at is not None
    return (done.finished_at.timestamp() - started_wall) * 1000


def ack_latencies(app: ServedWarroom, count: int, latency: float) -> list[float]:
    """Ack times in ms for `count` declarations sent at the same moment, timed from a client
    process of their own so that the simulator's work here does not skew them."""
    app.sim.set_latency(latency)
    bodies = [
        app.person.command_body(f"declare sev3 Storm {n}", response_url=app.sim.response_url("b")).decode()
        for n in range(count)
    ]
    job = json.dumps({"url": app.person.events_url, "secret": app.person.secret, "bodies": bodies})
    client = subprocess.run(
        [sys.executable, __file__, "--ack-client"], input=job, capture_output=True, text=True, check=True
    )
    results = json.loads(client.stdout)
    app.wait_ready([int(text.split()[1].removeprefix("INC-")) for text in results["texts"]])
    return sorted(results["ms"])


async def send_all_at_once(url: str, secret: str, bodies: list[str]) -> dict[str, list[Any]]:
    """Open a connection per body, then sign and send every body at the same moment; return each
    ack's time and text. HTTP/1.1 is written by hand: a client library's own per-request CPU
    would be measured as server latency."""
    target = urlsplit(url)
    host, port = target.hostname or "127.0.0.1", target.port or 80
    connections = [await asyncio.open_connection(host, port) for _ in bodies]

    async def send(
        body: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> tuple[float, str]:
        timestamp = str(int(time.time()))
        head = (
            f"POST {target.path} HTTP/1.1\r\nhost: {host}:{port}\r\n"
            "content-type: application/x-www-form-urlencoded\r\n"
            f"content-length: {len(body)}\r\nx-slack-request-timestamp: {timestamp}\r\n"
            f"x-slack-signature: {slack_signature(secret, timestamp, body)}\r\n\r\n"
        )
        started = time.monotonic()
        writer.write(head.encode() + body)
        await reader.readuntil(b"\r\n")
        headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        length = int(headers.split("content-length:")[1].split("\r\n")[0])
        text = json.loads(await reader.readexactly(length))["text"]
        elapsed = (time.monotonic() - started) * 1000
        writer.close()
        return elapsed, str(text)

    done = await asyncio.gather(
        *(send(body.encode(), *connection) for body, connection in zip(bodies, connections, strict=True))
    )
    return {"ms": [ms for ms, _ in done], "texts": [text for _, text in done]}


def percentile(values: list[float], p: float) -> float:
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run(database_url: str) -> None:
    """Every measurement against one database."""
    simulator = SlackSimulator()
    simulator.start()
    app = ServedWarroom(simulator, database_url)
    try:
        first, second = calls_per_declaration(app)
        print(f"Slack calls per declaration (no broadcast): {first} (same declarer again: {second})")
        for latency, user in ((0.0, "U0CAROL"), (0.1, "U0DAVE")):
            invited, ready = time_to_ready(app, latency, user)
            print(
                f"at {latency * 1000:.0f} ms per Slack call: declarer invited {invited:.0f} ms, "
                f"room ready {ready:.0f} ms"
            )
        [incident] = app.wait_ready([app.declare("declare sev2 Search is slow", user="U0DAVE")])
        status = time_to_done(app, "status identified", incident, 0.1)
        resolved = time_to_done(app, "resolve Rolled back", incident, 0.1)
        print(f"at 100 ms per Slack call: status change done {status:.0f} ms, resolve done {resolved:.0f} ms")
        acks = ack_latencies(app, 20, 0.2)
        print(
            f"ack latency, 20 simultaneous declarations at 200 ms per Slack call: "
            f"p50 {statistics.median(acks):.1f} ms, p99 {percentile(acks, 99):.1f} ms, "
            f"max {acks[-1]:.1f} ms"
        )
    finally:
        app.stop()
        simulator.stop()


def main() -> int:
    with tempfile.TemporaryDirectory() as workdir:
        databases = {"SQLite": f"sqlite:///{Path(workdir) / 'bench.db'}"}
        postgres = os.environ.get("DATABASE_URL", "")
        if postgres.startswith("postgresql"):
            databases["Postgres"] = postgres
        for name, database_url in databases.items():
            print(f"== {name}, one process")
            run(database_url)
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--ack-client"]:
        job = json.load(sys.stdin)
        print(json.dumps(asyncio.run(send_all_at_once(job["url"], job["secret"], job["bodies"]))))
        sys.exit(0)
    sys.exit(main())
