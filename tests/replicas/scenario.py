"""The chaos scenario shared by tests/replicas and bench/chaos.py: three `warroom serve` processes
on one Postgres behind HAProxy, Slack (the simulator) at 200 ms a call, the fake PagerDuty and an
automation endpoint; a burst of 100 mixed signed requests while replicas are killed or replaced;
then every request's effect is counted in the simulator's records, the endpoint's and the database.

An acknowledged request (2xx) must have taken effect exactly once; one that got no 2xx may be
lost (its sender saw the failure) but never doubled.
"""

from __future__ import annotations

import json
import random
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import text
from sqlmodel import select

from bot.flows.runs import CRASHED
from bot.http.signing import pagerduty_signature
from bot.jobs.queue import QUEUED, RUNNING
from bot.simulator import SlackSimulator
from bot.simulator.automation import AutomationEndpoint
from bot.simulator.harness import BROADCAST
from bot.simulator.pagerduty import FakePagerDuty
from bot.simulator.sender import SlackSender, new_trigger_id
from storage import migrate
from storage.models import Alert, Incident, Job, RemediationRun, TimelineEvent
from storage.session import configure, in_session
from tests.pagerduty import pd_body
from tests.replicas.processes import LoadBalancer, ServeProcess, serve_environment

REPLICAS = 3
LEASE_SECONDS = 3
LATENCY = 0.2
ROOMS = 6
RUN_ROOMS = 2  # rooms with a rollback waiting for approval; four others get a severity change each
SETTLE_TIMEOUT = 90.0
WEBHOOK_SECRET = "whsec_chaos"
PLAYBOOK = """---
id: checkout
title: Checkout broken
match:
  keywords: [checkout]
actions:
  - id: rollback
    label: Roll back checkout
    kind: webhook
    url: http://{host}/rollback
    params:
      release: {{pattern: "^v[0-9]{{1,4}}$", max_length: 6, description: "a release like v41"}}
    target: checkout deployment
    risk: medium
    approvers: [ic, ops]
    min_approvals: 1
---
Steps.
"""
RULES = """
rules:
  - name: checkout-errors
    match: {service: "Checkout*", title: "*5xx*", urgency: high}
    triage: high
    severity: 2
default: low
default_notice_channel: C0GENERAL
"""


def fresh_database(url: str) -> None:
    """An empty Postgres schema migrated to head."""
    engine = configure(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(url)
    configure(url)


@dataclass
class Request:
    """One request of the burst, what it should cause, and what its sender was answered."""

    kind: str
    effect: str  # requests with one effect (double clicks, a redelivered webhook) share it
    send: Callable[[], httpx.Response]
    status: int | None = None
    failure: str = ""  # why there was no answer

    @property
    def acknowledged(self) -> bool:
        """Whether the sender got a 2xx."""
        return self.status is not None and 200 <= self.status < 300


@dataclass
class Tally:
    """What one trial found."""

    acknowledged: int = 0
    refused: Counter[str] = field(default_factory=Counter)  # what the others were answered
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    recovery_seconds: float | None = None

    def problems(self) -> str:
        """The lost and duplicated effects, and the requests not acknowledged."""
        return f"lost: {self.lost}; duplicated: {self.duplicated}; not acknowledged: {dict(self.refused)}"


class Cluster:
    """The fakes, the replicas and the load balancer of one trial."""

    def __init__(self, database_url: str, workdir: Path) -> None:
        self.database_url = database_url
        self.sim = SlackSimulator()
        self.pd = FakePagerDuty()
        self.endpoint = AutomationEndpoint()
        self.secret = secrets.token_hex(16)
        self.workdir = workdir
        self.replicas: list[ServeProcess] = []
        self.balancer: LoadBalancer | None = None

    def start(self) -> None:
        """Start the fakes, then the replicas (in parallel) and HAProxy in front of them."""
        for fake in (self.sim, self.pd, self.endpoint):
            fake.start()
        self.sim.add_user("U0DAVE", "dave")
        books = self.workdir / "books"
        books.mkdir(exist_ok=True)
        (books / "checkout.md").write_text(PLAYBOOK.format(host=self.endpoint.host))
        rules = self.workdir / "triage.yaml"
        rules.write_text(RULES)
        env = serve_environment(
            SLACK_BOT_TOKEN=self.sim.token,
            SLACK_SIGNING_SECRET=self.secret,
            SLACK_API_URL=self.sim.base_url,
            DATABASE_URL=self.database_url,
            WARROOM_BROADCAST_CHANNEL=BROADCAST,
            WARROOM_PLAYBOOKS_DIR=str(books),
            WARROOM_TRIAGE_RULES=str(rules),
            WARROOM_REMEDIATION_HOSTS=self.endpoint.host,
            WARROOM_REMEDIATION_HTTP_HOSTS="127.0.0.1",
            WARROOM_ADMINS="U0DAVE,U0CAROL",
            WARROOM_JOB_LEASE_SECONDS=str(LEASE_SECONDS),
            WARROOM_SHUTDOWN_GRACE_SECONDS="5",
            PAGERDUTY_API_TOKEN=self.pd.token,
            PAGERDUTY_API_URL=self.pd.base_url,
            PAGERDUTY_FROM_EMAIL="warroom@example.com",
            PAGERDUTY_WEBHOOK_SECRETS=WEBHOOK_SECRET,
        )
        self.replicas = [ServeProcess(env, name=f"replica{n}") for n in range(REPLICAS)]
        for replica in self.replicas:
            replica.start(wait=False)
        for replica in self.replicas:
            replica.wait_ready()
        self.balancer = LoadBalancer(self.replicas)
        self.balancer.start()
        self.sim.set_latency(LATENCY)

    @property
    def url(self) -> str:
        """The load balancer's base URL."""
        assert self.balancer is not None
        return self.balancer.url

    def stop(self) -> None:
        """Stop everything this cluster started."""
        if self.balancer is not None:
            self.balancer.stop()
        for replica in self.replicas:
            replica.close()
        for fake in (self.endpoint, self.pd, self.sim):
            fake.stop()

    def logs(self) -> str:
        """Every replica's output, for a failure message."""

        def interesting(output: str) -> str:
            return "\n".join(line for line in output.splitlines() if '" 200 OK' not in line)[-4000:]

        return "\n".join(f"--- {r.name}\n{interesting(r.output())}" for r in self.replicas)


def kill_and_restart(cluster: Cluster, index: int = 1) -> Callable[[], float]:
    """`kill -9` one replica and start it again at once; returns a wait for the recovery time
    (until every job the dead replica held has been finished by someone)."""
    replica = cluster.replicas[index]
    assert replica.process is not None
    pid = replica.process.pid
    replica.kill()
    killed_at = time.monotonic()
    replica.wait()
    held = in_session(
        lambda s: [
            job.id
            for job in s.exec(select(Job).where(Job.state == RUNNING, Job.lease_owner.like(f"%:{pid}:%")))  # type: ignore[union-attr]
        ]
    )
    replica.start(wait=False)

    def recovered() -> float:
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while time.monotonic() < deadline:
            states = in_session(lambda s: [s.get_one(Job, job_id).state for job_id in held])
            if not {QUEUED, RUNNING} & set(states):
                return time.monotonic() - killed_at
            time.sleep(0.1)
        raise AssertionError(f"the dead replica's jobs {held} were not taken over")

    return recovered


def rolling_restart(cluster: Cluster) -> None:
    """SIGTERM each replica in turn and start its replacement once it has gone."""
    for replica in cluster.replicas:
        replica.terminate()
        assert replica.wait() == 0, replica.output()[-4000:]
        replica.start()


class Scenario:
    """Set up four war rooms, fire a burst, count what happened."""

    def __init__(self, cluster: Cluster, *, seed: int = 0) -> None:
        self.cluster = cluster
        self.sim = cluster.sim
        self.person = SlackSender(f"{cluster.url}/slack/events", cluster.secret)
        self.http = httpx.Client(timeout=15)
        self.random = random.Random(seed)
        self.rooms: list[str] = []
        self.runs: list[int] = []
        self.note_form: dict[str, Any] = {}
        self.requests: list[Request] = []

    # Set-up: rooms ready, a run waiting for approval in each, a form to submit, messages to pin

    def setup(self) -> None:
        """Declare the rooms, request a rollback in each, open the card's note form."""
        for n in range(ROOMS):
            self._ok(
                self.person.command(f"declare sev3 Room {n} checkout", response_url=self._reply(f"room{n}"))
            )
        incidents = self._wait(lambda: self._ready_rooms(ROOMS), "the rooms to be ready")
        self.rooms = [incident.channel_id for incident in incidents]
        for room in self.rooms[:RUN_ROOMS]:
            self._ok(self.person.command("run checkout/rollback release=v41", channel=room))
        runs = self._wait(lambda: self._requested_runs(RUN_ROOMS), "the rollbacks to be requested")
        self.runs = [run.id for run in runs]
        card = self._click(self.rooms[0], "card.note", str(incidents[0].id), user="U0ALICE")
        self._ok(self.person.interaction(card))
        opened = self._wait(lambda: self.sim.calls_to("views.open"), "the note form to open")
        self.note_form = opened[-1].response["view"]

    def _ready_rooms(self, count: int) -> list[Incident] | None:
        found = in_session(lambda s: list(s.exec(select(Incident).where(Incident.room_ready_at != None))))  # noqa: E711
        return sorted(found, key=lambda i: i.title) if len(found) == count else None

    def _requested_runs(self, count: int) -> list[RemediationRun] | None:
        found = in_session(
            lambda s: list(s.exec(select(RemediationRun).where(RemediationRun.state == "requested")))
        )
        by_room = {run.incident_id: run for run in found}
        incidents = self._ready_rooms(ROOMS) or []
        return [by_room[i.id] for i in incidents if i.id in by_room] if len(by_room) == count else None

    # The burst

    def plan(self) -> None:
        """A shuffled burst of 100 requests of every kind."""
        plan: list[Request] = []
        for k in range(12):
            plan.append(self._command("declare", f"declare:{k}", f"declare sev3 Burst {k} down"))
        for k in range(16):
            room = self.rooms[k % ROOMS]
            plan.append(self._command("update", f"update:{k}", f"update Update {k} rolled forward", room))
        for n, sev in enumerate((1, 2, 4, 1)):  # one each (two at once: one wins, the other is told)
            plan.append(self._command("sev", f"sev:{n}", f"sev {sev}", self.rooms[RUN_ROOMS + n]))
        for k in range(16):
            plan.append(
                self._command("note", f"note:{k}", f"note Note {k} cache flushed", self.rooms[k % ROOMS])
            )
        for k in range(12):
            room = self.rooms[k % ROOMS]
            ts = self.sim.add_message(room, f"Pin {k} error rate back to normal", user="U0CAROL")
            plan.append(Request("pin", f"pin:{k}", lambda room=room, ts=ts, k=k: self._pin(room, ts, k)))
        for k in range(12):
            plan.append(Request("card", f"card:{k}", lambda k=k: self._card_note(k)))
        for k in range(12):  # a severity change would void the run: none in these rooms
            n, user = k % RUN_ROOMS, ("U0CAROL", "U0DAVE")[k % 2]
            click = self._click(self.rooms[n], "remediation.approve", str(self.runs[n]), user=user)
            plan.append(
                Request("approve", f"approve:{n}", lambda click=click: self.person.interaction(click))
            )
        for k in range(8):
            body = pd_body(
                pd_id=f"QBURST{k:04d}", key=f"burst-{k}", title=f"Checkout 5xx burst {k}", number=5000 + k
            )
            for _ in range(2):  # PagerDuty redelivers; the second is the same delivery
                plan.append(
                    Request("pagerduty", f"pagerduty:{k}", lambda body=body, k=k: self._webhook(body, k))
                )
        self.random.shuffle(plan)
        self.requests = plan

    def burst(self, disturb_at: int = 40, disturb: Callable[[], None] = lambda: None) -> None:
        """Send the burst from 12 threads; call `disturb` on another thread after `disturb_at`."""
        disturbance = threading.Thread(target=disturb, name="disturb")
        with ThreadPoolExecutor(12) as pool:
            for index, request in enumerate(self.requests):
                if index == disturb_at:
                    disturbance.start()
                pool.submit(self._send, request)
                time.sleep(0.02)
        disturbance.join()

    def _send(self, request: Request) -> None:
        try:
            request.status = request.send().status_code
        except httpx.HTTPError as exc:
            request.status, request.failure = None, type(exc).__name__

    # Counting

    def settle(self) -> None:
        """Wait until no job is due or running and Slack has been quiet for two seconds (a
        deadline set for later, such as a finished run's timeout, is not work left to do)."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        quiet_since, calls = time.monotonic(), -1
        busy: list[Job] = []
        while time.monotonic() < deadline:
            busy = in_session(due_jobs)
            now_calls = len(self.sim.calls) + len(self.cluster.endpoint.hits)
            if busy or now_calls != calls:
                quiet_since, calls = time.monotonic(), now_calls
            elif time.monotonic() - quiet_since > 2:
                return
            time.sleep(0.2)
        left = [(job.kind, job.key, job.state, job.attempts, job.last_error) for job in busy]
        raise AssertionError(f"the cluster did not settle; jobs left: {left}\n{self.cluster.logs()}")

    def tally(self) -> Tally:
        """How many times each request's effect happened, against whether it was acknowledged."""
        counts = self._counts()
        tally = Tally()
        acknowledged: dict[str, bool] = {}
        for request in self.requests:
            acknowledged[request.effect] = acknowledged.get(request.effect, False) or request.acknowledged
            if request.acknowledged:
                tally.acknowledged += 1
            else:
                tally.refused[f"{request.kind} {request.status or request.failure}"] += 1
        for effect, acked in acknowledged.items():
            found = counts[effect]
            if any(n > 1 for n in found):
                tally.duplicated.append(f"{effect} {found}")
            elif acked and any(n == 0 for n in found):
                tally.lost.append(f"{effect} {found}")
        return tally

    def _counts(self) -> dict[str, list[int]]:
        """Effect → how often each of its visible parts happened."""
        channels = self.sim.channels
        said = {
            c["id"]: [m for m in c["messages"] if m.get("user") == self.sim.bot_user_id] for c in channels
        }
        names = [c["name"] for c in channels]
        notes = [e.text for e in in_session(lambda s: list(s.exec(select(TimelineEvent))))]
        incidents = [i.title for i in in_session(lambda s: list(s.exec(select(Incident))))]
        alerts = [a.dedup_key for a in in_session(lambda s: list(s.exec(select(Alert))))]
        hits = [hit.idempotency_key for hit in self.cluster.endpoint.hits]

        def posts(channel: str, needle: str) -> int:
            return sum(needle in m["text"] for m in said.get(channel, []))

        def rooms_named(slug: str) -> int:
            return sum(bool(re.fullmatch(rf"inc-\d+-{slug}", name)) for name in names)

        counts: dict[str, list[int]] = {}
        for k in range(12):
            title = f"Burst {k} down"
            counts[f"declare:{k}"] = [
                incidents.count(title),
                rooms_named(f"burst-{k}-down"),
                posts(BROADCAST, title),
            ]
            counts[f"pin:{k}"] = [notes.count(f"Pin {k} error rate back to normal")]
            counts[f"card:{k}"] = [notes.count(f"Card note {k}")]
        for k in range(16):
            text_ = f"Update {k} rolled forward"
            counts[f"update:{k}"] = [posts(self.rooms[k % ROOMS], text_), posts(BROADCAST, text_)]
            counts[f"note:{k}"] = [notes.count(f"Note {k} cache flushed")]
        for n, sev in enumerate((1, 2, 4, 1)):
            counts[f"sev:{n}"] = [posts(self.rooms[RUN_ROOMS + n], f"to *SEV{sev}*")]
        ended = {r.id: r for r in in_session(lambda s: list(s.exec(select(RemediationRun))))}
        for n, run in enumerate(self.runs):
            sent = hits.count(f"warroom-run-{run}")
            # a non-idempotent action whose sender was killed mid-send is never sent again: it
            # ends `unknown` and the room is told to check by hand (at most once, as promised)
            told = not sent and ended[run].state == "unknown" and ended[run].outcome == CRASHED
            counts[f"approve:{n}"] = [1 if told else sent]
        for k in range(8):
            title = f"Checkout 5xx burst {k}"
            counts[f"pagerduty:{k}"] = [
                alerts.count(f"burst-{k}"),
                incidents.count(title),
                rooms_named(f"checkout-5xx-burst-{k}"),
            ]
        return counts

    # Requests

    def _command(self, kind: str, effect: str, command: str, room: str = "C0GENERAL") -> Request:
        reply = self._reply(effect)
        return Request(kind, effect, lambda: self.person.command(command, channel=room, response_url=reply))

    def _reply(self, name: str) -> str:
        return self.sim.response_url(name)

    def _pin(self, room: str, ts: str, k: int) -> httpx.Response:
        event = {
            "token": "unused",
            "team_id": self.sim.team_id,
            "api_app_id": "A0WARROOM",
            "type": "event_callback",
            "event_id": f"EvPIN{k:04d}",
            "event_time": int(time.time()),
            "event": {
                "type": "reaction_added",
                "user": "U0ALICE",
                "reaction": "pushpin",
                "item": {"type": "message", "channel": room, "ts": ts},
                "item_user": "U0CAROL",
                "event_ts": f"{time.time():.6f}",
            },
        }
        return self.person.post(json.dumps(event).encode(), "application/json")

    def _card_note(self, k: int) -> httpx.Response:
        view = {**self.note_form, "id": f"VCARD{k:04d}"}
        state = {"value": {"value": {"type": "plain_text_input", "value": f"Card note {k}"}}}
        return self.person.view_submission(view, state, user="U0ALICE")

    def _click(self, room: str, action_id: str, value: str, *, user: str) -> dict[str, Any]:
        stamp = f"{time.time():.6f}"
        return {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "team_id": self.sim.team_id},
            "team": {"id": self.sim.team_id, "domain": "example"},
            "api_app_id": "A0WARROOM",
            "trigger_id": new_trigger_id(),
            "container": {"type": "message", "message_ts": stamp, "channel_id": room},
            "channel": {"id": room, "name": "inc"},
            "message": {"ts": stamp, "type": "message"},
            "response_url": self._reply(f"{action_id}-{value}"),
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": "b",
                    "type": "button",
                    "value": value,
                    "action_ts": stamp,
                }
            ],
        }

    def _webhook(self, body: bytes, k: int) -> httpx.Response:
        headers = {
            "content-type": "application/json",
            "x-pagerduty-signature": pagerduty_signature(WEBHOOK_SECRET, body),
            "x-webhook-id": f"delivery-{k}",
            "user-agent": "PagerDuty-Webhook/V3.0",
        }
        return self.http.post(f"{self.cluster.url}/pagerduty/webhook", content=body, headers=headers)

    # Helpers

    def _ok(self, response: httpx.Response) -> None:
        assert response.status_code == 200, (response.status_code, response.text)

    def _wait(self, found: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if result := found():
                return result
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}:\n{self.cluster.logs()}")

    def close(self) -> None:
        """Close the senders' connections."""
        self.person.close()
        self.http.close()


def run_trial(database_url: str, workdir: Path, disturbance: str, *, seed: int = 0) -> Tally:
    """One trial on a fresh database: set up, burst while `disturbance` ("kill" or "rolling")
    happens, settle, count."""
    fresh_database(database_url)
    cluster = Cluster(database_url, workdir)
    try:
        cluster.start()
        scenario = Scenario(cluster, seed=seed)
        scenario.setup()
        scenario.plan()
        recovery: list[Callable[[], float]] = []
        if disturbance == "kill":
            scenario.burst(disturb=lambda: recovery.append(kill_and_restart(cluster)))
        else:
            scenario.burst(disturb_at=20, disturb=lambda: rolling_restart(cluster))
        recovered = recovery[0]() if recovery else None
        for replica in cluster.replicas:
            replica.wait_ready()
        scenario.settle()
        tally = scenario.tally()
        tally.recovery_seconds = recovered
        scenario.close()
        return tally
    finally:
        cluster.stop()


def due_jobs(session: Any) -> list[Job]:
    """Jobs running now or queued to run by now."""
    due = (Job.state == RUNNING) | ((Job.state == QUEUED) & (Job.run_after <= datetime.now(UTC)))
    return list(session.exec(select(Job).where(due)))
