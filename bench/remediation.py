"""Remediation benchmark: ms from the approval click to the automation endpoint receiving the
call at 100 ms per Slack call, and runbook matching time over 1,000 generated runbooks.

Run: python bench/remediation.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.playbooks.matching import Catalog, Facts
from bot.playbooks.models import FrontMatter, Playbook
from bot.simulator import SlackSimulator
from bot.simulator.automation import AutomationEndpoint
from bot.simulator.harness import LocalWarroom, local_settings

RUNBOOK = """---
id: bench
title: Checkout broken
match: {{keywords: [checkout]}}
actions:
  - id: rollback
    label: Roll back checkout
    kind: webhook
    url: http://{host}/rollback
    target: checkout deployment
    risk: medium
    approvers: [ops]
---
Steps.
"""


def approval_to_dispatch(latency: float, rounds: int = 5) -> list[float]:
    """For each round: request a medium-risk run, approve it, time click → endpoint call."""
    simulator, endpoint = SlackSimulator(), AutomationEndpoint()
    simulator.start()
    endpoint.start()
    with tempfile.TemporaryDirectory() as workdir:
        books = Path(workdir) / "books"
        books.mkdir()
        (books / "bench.md").write_text(RUNBOOK.format(host=endpoint.host), encoding="utf-8")
        settings = local_settings(
            simulator,
            f"sqlite:///{Path(workdir) / 'bench.db'}",
            warroom_playbooks_dir=books,
            warroom_remediation_hosts=[endpoint.host],
            warroom_remediation_http_hosts=["127.0.0.1"],
            warroom_broadcast_channel=None,
        )
        app = LocalWarroom(simulator, settings)
        try:
            return [_one_round(app, endpoint, latency, n) for n in range(rounds)]
        finally:
            app.stop()
            endpoint.stop()
            simulator.stop()


def _one_round(app: LocalWarroom, endpoint: AutomationEndpoint, latency: float, n: int) -> float:
    app.sim.set_latency(0)
    app.command(f"declare sev2 Checkout broken {n}")
    app.settle()
    room = [c.response["channel"]["id"] for c in app.sim.calls_to("conversations.create")][-1]
    app.command("role ops <@U0CAROL|carol>", channel=room)
    app.command("run rollback", channel=room)
    app.settle()
    run_id = _newest_request(app)
    app.sim.set_latency(latency)
    before = len(endpoint.hits)
    started = time.monotonic()
    app.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U0CAROL", "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": f"b.{n}",
            "channel": {"id": room},
            "container": {"type": "message", "message_ts": "0", "channel_id": room},
            "actions": [
                {
                    "action_id": "remediation.approve",
                    "block_id": "b",
                    "type": "button",
                    "value": run_id,
                    "action_ts": f"{n}.1",
                }
            ],
        }
    )
    while len(endpoint.hits) == before:
        time.sleep(0.001)
    elapsed = (time.monotonic() - started) * 1000
    app.settle()
    return elapsed


def _newest_request(app: LocalWarroom) -> str:
    for call in reversed(app.sim.calls_to("chat.postMessage")):
        for block in call.args.get("blocks") or []:
            for element in block.get("elements", []):
                if element.get("action_id") == "remediation.approve":
                    return str(element["value"])
    raise LookupError("no request posted")


def matching_ms(count: int = 1000, incidents: int = 200) -> float:
    """Mean ms to match one incident against `count` generated runbooks."""
    playbooks = [
        Playbook(
            meta=FrontMatter.model_validate(
                {
                    "id": f"runbook-{n}",
                    "title": f"Runbook {n}",
                    "match": {
                        "services": [f"service-{n % 50}"],
                        "alerts": [f"Alert{n % 70}*", f"*Error{n}"],
                        "keywords": [f"word{n % 90}", f"term{n % 33}", "latency"],
                    },
                }
            ),
            steps="",
            path=f"{n}.md",
        )
        for n in range(count)
    ]
    catalog = Catalog(playbooks)
    facts = [
        Facts(
            f"word{n % 90} latency spike on term{n % 7}",
            1 + n % 4,
            service=f"service-{n % 60}",
            alert=f"Alert{n % 80}HighErrorRate",
        )
        for n in range(incidents)
    ]
    started = time.perf_counter()
    for fact in facts:
        catalog.match(fact)
    return (time.perf_counter() - started) * 1000 / incidents


def main() -> int:
    delays = approval_to_dispatch(0.1)
    print(
        f"approval click → dispatch at 100 ms per Slack call: median {statistics.median(delays):.0f} ms, "
        f"max {max(delays):.0f} ms over {len(delays)} runs"
    )
    print(f"runbook matching over 1,000 runbooks: {matching_ms():.2f} ms per incident")
    return 0


if __name__ == "__main__":
    sys.exit(main())
