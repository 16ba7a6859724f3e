"""`warroom demo`: a scripted incident against the built-in Slack simulator."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import tempfile
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import httpx

from bot import clock
from bot.config import SAMPLE_PLAYBOOKS
from bot.http.runner import free_port
from bot.http.signing import pagerduty_signature
from bot.simulator import SlackSimulator
from bot.simulator.automation import AutomationEndpoint
from bot.simulator.github import FakeGitHub
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.pagerduty import FakePagerDuty
from bot.text import plural

Out = Callable[[str], None]
WEBHOOK_SECRET = "whsec_demo"
ALERTMANAGER_TOKEN = "am_demo_token"
GITHUB_SECRET, GITHUB_REPOSITORY = "whsec_demo_github", "acme/incidents"
ALERTS_CHANNEL = "C0ALERTS"  # the sample triage.yaml's notice channel
STORY_LENGTH = timedelta(hours=1)
CLOSE_FORM = {
    "customer_impact": "Card payments failed at checkout; customers saw an error page.",
    "detection": "Customers reported failed payments to support.",
    "users_affected": "1200",
    "impact_minutes": "34",
    "lost_business": "about 300 orders",
    "root_cause": "Deploy 4512 shipped a connection-pool setting too small for peak traffic.",
    "fix_kind": "stopgap",
}


def run_demo(*, latency: float = 0.0, out: Out = print, console: Callable[[str], None] | None = None) -> None:
    """Play an incident as people would and print what Slack shows them; with `console`, keep
    the servers up afterwards with the web console signed in through the simulator, and hand
    `console` its address (it returns when the demo may end)."""
    for noisy in ("alembic", "httpx", "httpx2", "bot"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    simulator, automation, pagerduty, github = (
        SlackSimulator(),
        AutomationEndpoint(),
        FakePagerDuty(),
        FakeGitHub(),
    )
    simulator.start()
    automation.start()
    pagerduty.start()
    github.start()
    simulator.set_latency(latency)
    simulator.add_channel("alerts", channel_id=ALERTS_CHANNEL, members=[simulator.bot_user_id])
    simulator.add_usergroup("S0TRIAGE", ["U0DAVE"])
    signin: dict[str, Any] = {}
    if console is not None:
        base = f"http://127.0.0.1:{free_port()}"
        simulator.add_redirect_url(base + "/auth/callback")
        signin = {
            "slack_client_id": simulator.client_id,
            "slack_client_secret": simulator.client_secret,
            "warroom_base_url": base,
        }
    with tempfile.TemporaryDirectory(prefix="warroom-demo-") as workdir:
        settings = local_settings(
            simulator,
            f"sqlite:///{Path(workdir) / 'demo.db'}",
            warroom_playbooks_dir=_local_playbooks(Path(workdir), automation.host),
            warroom_remediation_hosts=[automation.host],
            warroom_remediation_http_hosts=["127.0.0.1"],
            pagerduty_api_token=pagerduty.token,
            pagerduty_api_url=pagerduty.base_url,
            pagerduty_from_email="warroom@example.com",
            pagerduty_webhook_secrets=WEBHOOK_SECRET,
            warroom_alertmanager_token=ALERTMANAGER_TOKEN,
            warroom_triage_group="S0TRIAGE",
            github_token=github.token,
            github_api_url=github.base_url,
            github_webhook_secret=GITHUB_SECRET,
            warroom_github_repository=GITHUB_REPOSITORY,
            warroom_github_users="U0CAROL=carol-gh,U0BOB=bob-gh,U0ALICE=alice-gh",
            **signin,
        )
        story = StoryClock(clock.now() - STORY_LENGTH)
        slack = LocalWarroom(simulator, settings)
        github.deliver_to(f"{slack.server.url}/tickets/github", GITHUB_SECRET)
        try:
            with mock.patch("bot.clock.now", story.now):
                _play(Scene(slack, out, story, github), automation)
            if console is not None:
                console(slack.server.url)
        finally:
            slack.stop()
            automation.stop()
            pagerduty.stop()
            github.stop()
            simulator.stop()


def _local_playbooks(workdir: Path, host: str) -> Path:
    """The sample runbooks, their automation pointed at the demo's local endpoint."""
    books = workdir / "playbooks"
    books.mkdir()
    for path in SAMPLE_PLAYBOOKS.glob("*.md"):
        text = path.read_text(encoding="utf-8").replace("https://automation.internal", f"http://{host}")
        (books / path.name).write_text(text, encoding="utf-8")
    return books


class StoryClock:
    """The demo's time: an hour-long incident told in seconds, so its metrics read as real ones."""

    def __init__(self, start: datetime) -> None:
        self.at = start

    def now(self) -> datetime:
        """The story's present."""
        return self.at

    def later(self, minutes: int) -> None:
        """Move the story on."""
        self.at += timedelta(minutes=minutes)


def _play(scene: Scene, automation: AutomationEndpoint) -> None:
    scene.type("U0ALICE", "declare sev2 Checkout returns 500s", "C0GENERAL")
    room = scene.room()
    scene.show_room(room)
    scene.later(2)
    scene.type("U0ALICE", "ic <@U0BOB|bob>", room)
    scene.later(3)
    scene.type("U0BOB", "sev 1", room)
    scene.later(2)
    scene.type("U0BOB", "note Deploy 4512 went out at 02:58; rolling it back", room)
    ts = scene.slack.sim.add_message(room, "Error rate is back under 0.5% after the rollback", user="U0CAROL")
    scene.out(f"\n@carol in #{scene.name(room)}: Error rate is back under 0.5% after the rollback")
    scene.react("U0ALICE", room, ts)
    scene.type("U0BOB", "role ops <@U0CAROL|carol>", room)
    scene.type("U0BOB", "run rollback-checkout release=v41", room)
    scene.later(2)
    scene.click("U0CAROL", room, "remediation.approve", scene.latest_run())
    scene.out(
        f"\n  (the automation endpoint received {plural(len(automation.hits), 'call')}: "
        + ", ".join(
            f"{hit.path} {hit.body.get('parameters')} key={hit.idempotency_key}" for hit in automation.hits
        )
        + ")"
    )
    scene.later(4)
    scene.type("U0BOB", "update Rolled back to v41; error rate falling, watching for 15 minutes", room)
    scene.type("U0BOB", "status monitoring", room)
    scene.later(15)
    scene.type("U0BOB", "resolve Rolled back to v41", room)
    scene.type("U0BOB", "timeline", room)
    scene.later(3)
    _alert_storm(scene)
    scene.later(5)
    _noisy_disk(scene)
    scene.later(5)
    _self_healing(scene, automation)
    scene.later(5)
    _close(scene, room)


def _close(scene: Scene, room: str) -> None:
    """Back in INC-1: a follow-up is recorded, then the IC closes it through the close form and
    the postmortem draft is posted."""
    due = (clock.now() + timedelta(days=7)).date().isoformat()
    followup = f"followup <@U0CAROL|carol> Page on checkout 5xx before customers notice due {due}"
    scene.type("U0BOB", followup, room)
    line = next(
        m for m in reversed(scene.slack.sim.channel(room)["messages"]) if "added a follow-up" in m["text"]
    )
    button = next(e for b in line["blocks"] if b["type"] == "actions" for e in b["elements"])
    scene.click("U0CAROL", room, button["action_id"], button["value"], line)
    scene.out(
        f"\n  (GitHub now has {scene.github.issues(GITHUB_REPOSITORY)[0]['title']!r}, assigned to carol-gh)"
    )
    scene.close_issue(1, "carol-gh")
    scene.type("U0BOB", "close", room)
    scene.fill_form("U0BOB", CLOSE_FORM)
    drafts = [f for f in scene.slack.sim.files.values() if f["title"].endswith("-postmortem.md")]
    scene.out(f"\n--- {drafts[-1]['title']} ---\n{drafts[-1]['content'].decode().rstrip()}\n---")


def _alert_storm(scene: Scene) -> None:
    """A PagerDuty alert is triaged high, opens an incident with its runbook, and a team is paged."""
    scene.alert("Checkout 5xx rate above 5%", "Checkout API", "checkout-5xx-2")
    room = scene.room()
    scene.type("U0CAROL", "ic <@U0CAROL|carol>", room)
    scene.type("U0CAROL", 'page "Orders DB" checkout errors point at the orders database', room)
    scene.type("U0CAROL", "oncall", room)


def _noisy_disk(scene: Scene) -> None:
    """Alertmanager sends a warning: a low notice with triage buttons; Dave (triage group) marks
    it as noise for a week, and the same alert firing again is only counted."""
    labels = {"alertname": "DiskFillingUp", "job": "workers", "instance": "worker-3", "severity": "warning"}
    scene.prometheus(labels, "Disk on worker-3 will be full within 24 h")
    notice = scene.slack.sim.channel(ALERTS_CHANNEL)["messages"][-1]
    scene.click(
        "U0DAVE", ALERTS_CHANNEL, "alert.noise", str(notice["blocks"][-1]["elements"][0]["value"]), notice
    )
    scene.fill_form("U0DAVE", {"scope": "labels", "days": "7", "reason": "worker-3 is replaced on Friday"})
    scene.later(30)
    scene.prometheus(labels, "Disk on worker-3 will be full within 24 h", again=True)
    scene.type("U0DAVE", "triage", ALERTS_CHANNEL)


def _self_healing(scene: Scene, automation: AutomationEndpoint) -> None:
    """Alertmanager warns of a queue backlog: the runbook's automatic fix is on trial, so the
    notice still goes to people, and the fix runs on it, announced before and reported after."""
    before = len(automation.hits)
    labels = {
        "alertname": "QueueBacklogHigh",
        "job": "events",
        "instance": "rabbitmq-1",
        "severity": "warning",
    }
    scene.prometheus(labels, "Events queue backlog above 50k messages")
    calls = [f"{hit.path} key={hit.idempotency_key}" for hit in automation.hits[before:]]
    scene.out(f"  (the automation endpoint received: {', '.join(calls) or 'nothing'})")


class Scene:
    """Sends what people do and prints what each of them would see since the last step."""

    def __init__(self, slack: LocalWarroom, out: Out, story: StoryClock, github: FakeGitHub) -> None:
        self.slack, self.out, self.story, self.github = slack, out, story, github
        self.calls_seen = 0

    def close_issue(self, number: int, login: str) -> None:
        """Someone closes a follow-up's issue in GitHub; its webhook reaches Warroom."""
        status = self.github.close(GITHUB_REPOSITORY, number, by=login)
        issue = f"{GITHUB_REPOSITORY}#{number}"
        self.out(f"\n{login} closes {issue} in GitHub  (Warroom answered the webhook {status})")
        self.slack.settle()
        self._show_new()

    def later(self, minutes: int) -> None:
        """Let some minutes of the story pass."""
        self.story.later(minutes)
        self.out(f"\n({minutes} min later)")

    def type(self, user: str, text: str, channel: str) -> None:
        """Type `/incident <text>` and show the answers."""
        who, where = _name(self.slack, user), self.name(channel)
        self.out(f"\n@{who} in #{where} types: /incident {render(self.slack, text)}")
        response = self.slack.command(text, user=user, channel=channel)
        answer = response.json().get("text") if response.content else None
        if answer:
            self.out(f"  (only you) {render(self.slack, answer)}")
        self.slack.settle()
        self._show_new()

    def fill_form(self, user: str, answers: dict[str, str]) -> None:
        """Fill in and submit the form Warroom just opened."""
        self.out(f"\n@{_name(self.slack, user)} fills in the form:")
        for name, value in answers.items():
            self.out(f"  {name.replace('_', ' ')}: {value}")
        self.slack.fill_form(answers, user=user)
        self.slack.settle()
        self._show_new()

    def react(self, user: str, channel: str, ts: str) -> None:
        """Add the timeline reaction to a message."""
        self.out(f"\n@{_name(self.slack, user)} reacts :pushpin: to that message")
        body = json.dumps(
            {
                "token": "unused",
                "team_id": "T0TEAM",
                "api_app_id": "A0WARROOM",
                "type": "event_callback",
                "event_id": f"Ev{ts}",
                "event_time": int(float(ts)),
                "event": {
                    "type": "reaction_added",
                    "user": user,
                    "reaction": "pushpin",
                    "item": {"type": "message", "channel": channel, "ts": ts},
                    "event_ts": ts,
                },
            }
        )
        self.slack.person.post(body.encode(), "application/json")
        self.slack.settle()
        self._show_new()

    def alert(self, title: str, service: str, key: str) -> None:
        """PagerDuty sends a signed webhook: an incident triggered on `service`."""
        self.out(f'\nPagerDuty: {service} triggered "{title}" (high urgency)')
        pd_id = f"Q{key.upper().replace('-', '')}"
        data = {
            "id": pd_id,
            "type": "incident",
            "self": f"https://api.pagerduty.com/incidents/{pd_id}",
            "html_url": f"https://example.pagerduty.com/incidents/{pd_id}",
            "number": 4211,
            "status": "triggered",
            "incident_key": key,
            "created_at": clock.now().isoformat(),
            "title": title,
            "urgency": "high",
            "service": {"id": "PSVC001", "type": "service_reference", "summary": service},
        }
        body = json.dumps(
            {
                "event": {
                    "event_type": "incident.triggered",
                    "occurred_at": clock.now().isoformat(),
                    "data": data,
                }
            }
        ).encode()
        headers = {
            "content-type": "application/json",
            "x-webhook-id": f"demo-{key}",
            "x-pagerduty-signature": pagerduty_signature(WEBHOOK_SECRET, body),
        }
        answer = httpx.post(f"{self.slack.server.url}/pagerduty/webhook", content=body, headers=headers)
        self.out(f"  (Warroom answered PagerDuty {answer.status_code})")
        for _ in range(3):  # the webhook, then the war room it opens, then its runbooks
            self.slack.settle()
        self._show_new()

    def click(
        self, user: str, channel: str, action_id: str, value: str, message: dict[str, Any] | None = None
    ) -> None:
        """Press a button in a channel (on `message`, when it matters which)."""
        self.out(f"\n@{_name(self.slack, user)} presses {action_id.split('.')[-1].capitalize()}")
        ts = message["ts"] if message else "0"
        self.slack.person.interaction(
            {
                "type": "block_actions",
                "user": {"id": user, "team_id": "T0TEAM"},
                "team": {"id": "T0TEAM"},
                "trigger_id": f"demo.{user}.{len(self.slack.sim.calls)}",
                "channel": {"id": channel},
                "container": {"type": "message", "message_ts": ts, "channel_id": channel},
                **(
                    {"message": {"ts": ts, "text": message["text"], "blocks": message["blocks"]}}
                    if message
                    else {}
                ),
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": "demo",
                        "type": "button",
                        "value": value,
                        "action_ts": str(len(self.slack.sim.calls)),
                    }
                ],
            }
        )
        self.slack.settle()
        self._show_new()

    def prometheus(self, labels: dict[str, str], summary: str, *, again: bool = False) -> None:
        """Alertmanager notifies its webhook receiver of one firing alert (a new start when `again`)."""
        self.out(
            f"\nAlertmanager: {labels['alertname']} firing on {labels['instance']} ({labels['severity']})"
        )
        alert = {
            "status": "firing",
            "labels": labels,
            "annotations": {"summary": summary},
            "startsAt": clock.now().isoformat(),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": f"http://prometheus.example.com:9090/graph?g0.expr={labels['alertname']}",
            "fingerprint": hashlib.sha256(labels["alertname"].encode()).hexdigest()[:16],
        }
        group = {
            "version": "4",
            "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
            "status": "firing",
            "alerts": [alert],
        }
        headers = {"authorization": f"Bearer {ALERTMANAGER_TOKEN}"}
        posted = len(self.slack.sim.calls_to("chat.postMessage"))
        answer = httpx.post(f"{self.slack.server.url}/alerts/alertmanager", json=group, headers=headers)
        self.out(f"  (Warroom answered Alertmanager {answer.status_code})")
        self.slack.settle()
        self._show_new()
        if again and len(self.slack.sim.calls_to("chat.postMessage")) == posted:
            self.out("  (no notice: the rule made from Slack ignores it, so it is only counted)")

    def latest_run(self) -> str:
        """The id of the newest remediation request, from its Approve button."""
        for message in reversed(self.slack.sim.calls_to("chat.postMessage")):
            for block in message.args.get("blocks") or []:
                for element in block.get("elements", []):
                    if element.get("action_id") == "remediation.approve":
                        return str(element["value"])
        raise LookupError("no remediation request was posted")

    def room(self) -> str:
        """The newest war room."""
        return str([c.response["channel"]["id"] for c in self.slack.sim.calls_to("conversations.create")][-1])

    def name(self, channel: str) -> str:
        """A channel's name."""
        return str(self.slack.sim.channel(channel)["name"])

    def show_room(self, room: str) -> None:
        """The room as a person opening it sees it."""
        channel = self.slack.sim.channel(room)
        members = ", ".join("@" + _name(self.slack, m) for m in channel["members"] if m != "U0BOT")
        self.out(f"\n  #{channel['name']} · topic: {channel['topic']} · members: {members}")
        card = channel["messages"][0]
        pinned = "📌 pinned " if card["ts"] in channel["pins"] else ""
        self.out(f"  {pinned}card: {render_message(self.slack, card)}")

    def _show_new(self) -> None:
        calls = self.slack.sim.calls[self.calls_seen :]
        self.calls_seen += len(calls)
        for call in calls:
            if call.ok and call.method in _SHOWN:
                self.out(f"  {_SHOWN[call.method](self, call.args)}")


def _where(scene: Scene, args: dict[str, Any]) -> str:
    channel = str(args.get("channel") or args.get("channel_id") or "")
    return f"@{_name(scene.slack, channel)} (DM)" if channel.startswith("U") else f"#{scene.name(channel)}"


_SHOWN: dict[str, Callable[[Scene, dict[str, Any]], str]] = {
    "chat.postMessage": lambda s, a: f"{_where(s, a)} @warroom: {render_message(s.slack, a)}",
    "chat.update": lambda s, a: f"{_where(s, a)} ✏️ updated: {render_message(s.slack, a)}",
    "conversations.setTopic": lambda s, a: f"{_where(s, a)} topic: {a['topic']}",
    "conversations.create": lambda s, a: f"new channel #{a['name']}",
    "conversations.invite": lambda s, a: f"{_where(s, a)} invited {render(s.slack, '<@' + a['users'] + '>')}",
    "pins.add": lambda s, a: f"{_where(s, a)} 📌 pinned the card",
    "views.open": lambda s, a: f"(form opened) {a['view']['title']['text']}",
    "files.completeUploadExternal": lambda s, a: (
        f"{_where(s, a)} 📎 " + ", ".join(f["title"] for f in a["files"])
    ),
    "chat.postEphemeral": lambda s, a: f"{_where(s, a)} (only you) {render(s.slack, a['text'])}",
    "response_url": lambda s, a: f"(only you) {render_message(s.slack, a)}",
}


def render_message(slack: LocalWarroom, message: dict[str, Any]) -> str:
    """A message as readable text: its blocks if it has them, else its text."""
    parts: list[str] = []
    for block in message.get("blocks") or []:
        if block["type"] == "header":
            parts.append(block["text"]["text"])
        elif block["type"] == "section":
            parts.extend(f["text"].replace("\n", ": ") for f in block.get("fields", []))
            if "text" in block:
                parts.append(block["text"]["text"])
        elif block["type"] == "context":
            parts.extend(e.get("text", "") for e in block["elements"])
    text = render(slack, "\n".join(parts) if parts else message.get("text", ""))
    return text.replace("\n", "\n      ")


def render(slack: LocalWarroom, text: str) -> str:
    """Slack markup as a person reads it: mentions, channel links and dates resolved."""
    text = re.sub(r"<@(U\w+)(\|[^>]*)?>", lambda m: "@" + _name(slack, m.group(1)), text)
    text = re.sub(r"<#(C\w+)(\|[^>]*)?>", lambda m: "#" + slack.sim.channel(m.group(1))["name"], text)
    text = re.sub(r"<!date\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2", text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _name(slack: LocalWarroom, user_id: str) -> str:
    user = slack.sim.users.get(user_id)
    return str(user["name"]) if user else user_id
