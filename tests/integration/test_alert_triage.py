"""Triage from Slack: the buttons on an alert notice, the rules they make (stored, audited,
applied to the next alert, expiring, reverted), and who may make them."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import httpx
import pytest
from sqlmodel import select

from bot.http.signing import webhook_signature
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.sender import new_trigger_id
from storage.models import Alert, AlertEvent, Incident, TriageOverride
from storage.session import session_scope

SECRET = "whk-secret-1"
RULES = """
rules:
  - name: ci-low
    match: {source: ci}
    triage: low
default_notice_channel: C0GENERAL
"""


@pytest.fixture
def app(simulator, db, tmp_path):
    rules = tmp_path / "triage.yaml"
    rules.write_text(RULES)
    simulator.add_usergroup("S0TRIAGE", ["U0BOB"])
    simulator.add_channel("team-ci", channel_id="C0TEAMCI", members=[simulator.bot_user_id])
    settings = local_settings(
        simulator,
        db,
        warroom_triage_rules=rules,
        warroom_webhook_secrets=SECRET,
        warroom_admins="U0ALICE",
        warroom_triage_group="S0TRIAGE",
    )
    warroom = LocalWarroom(simulator, settings)
    yield warroom
    warroom.stop()


def send(app, key: str, title: str = "Flaky build runner", **fields) -> None:
    body = json.dumps({"source": "ci", "dedup_key": key, "title": title, **fields}).encode()
    stamp = str(int(time.time()))
    headers = {
        "content-type": "application/json",
        "x-warroom-timestamp": stamp,
        "x-warroom-signature": webhook_signature(SECRET, stamp, body),
    }
    assert httpx.post(f"{app.server.url}/alerts/webhook", content=body, headers=headers).status_code == 202
    app.settle()


def notices(app) -> list[dict]:
    return [m for m in app.sim.channel("C0GENERAL")["messages"] if "alert on" in m["text"]]


def press(app, notice: dict, action_id: str, *, user: str = "U0ALICE") -> None:
    actions = next(b for b in notice["blocks"] if b["type"] == "actions")
    button = next(e for e in actions["elements"] if e["action_id"] == action_id)
    app.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": app.sim.team_id},
            "team": {"id": app.sim.team_id},
            "api_app_id": "A0WARROOM",
            "trigger_id": new_trigger_id(),
            "channel": {"id": "C0GENERAL"},
            "container": {"type": "message", "message_ts": notice["ts"], "channel_id": "C0GENERAL"},
            "message": {"ts": notice["ts"], "text": notice["text"], "blocks": notice["blocks"]},
            "actions": [{**button, "block_id": actions["block_id"], "action_ts": "1.1"}],
        }
    )
    app.settle()


def submit(
    app, *, user: str, scope: str = "key", days: str = "7", reason: str = "", channel: str | None = None
):
    view = {**app.sim.calls_to("views.open")[-1].args["view"]}
    state = {
        "scope": {"scope": {"type": "radio_buttons", "selected_option": {"value": scope}}},
        "days": {"days": {"type": "static_select", "selected_option": {"value": days}}},
        "reason": {"reason": {"type": "plain_text_input", "value": reason}},
    }
    if channel:
        state["channel"] = {"channel": {"type": "conversations_select", "selected_conversation": channel}}
    answer = app.person.view_submission(view, state, user=user)
    app.settle()
    return answer


def rows(model):
    with session_scope() as session:
        return list(session.exec(select(model).order_by(model.id)))


def whispers(app, user: str) -> list[str]:
    return [c.args["text"] for c in app.sim.calls_to("chat.postEphemeral") if c.args["user"] == user]


def test_a_notice_carries_the_triage_buttons(app):
    send(app, "runner-1", labels={"runner": "r1"})
    [notice] = notices(app)
    actions = next(b for b in notice["blocks"] if b["type"] == "actions")
    assert [e["text"]["text"] for e in actions["elements"]] == [
        "Declare incident",
        "Acknowledge",
        "Mark as noise…",
        "Route to…",
    ]


def test_acknowledge_marks_the_notice_once_and_counts_for_the_report(app):
    send(app, "runner-1")
    [notice] = notices(app)
    press(app, notice, "alert.acknowledge", user="U0DAVE")
    press(app, notice, "alert.acknowledge", user="U0CAROL")  # the old notice, pressed again
    [alert] = rows(Alert)
    assert alert.status == "acknowledged" and alert.acknowledged_at is not None
    assert [e.kind for e in rows(AlertEvent)] == ["triggered", "acknowledged"]
    [notice] = notices(app)
    contexts = [b["elements"][0]["text"] for b in notice["blocks"] if b["type"] == "context"]
    assert contexts == [":eyes: Acknowledged by <@U0DAVE>"]
    buttons = [e["action_id"] for b in notice["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert "alert.acknowledge" not in buttons
    assert whispers(app, "U0CAROL") == ["Someone already acknowledged that alert; nothing changed."]


def test_declare_from_a_notice_opens_one_war_room_with_the_presser_as_ic(app):
    send(app, "runner-1", title="Checkout canary failing")
    [notice] = notices(app)
    press(app, notice, "alert.declare", user="U0DAVE")
    press(app, notice, "alert.declare", user="U0CAROL")
    [incident] = rows(Incident)
    assert (incident.title, incident.commander_id) == ("Checkout canary failing", "U0DAVE")
    assert incident.channel_id and app.sim.channel(incident.channel_id)["name"].startswith("inc-1-")
    assert rows(Alert)[0].incident_id == incident.id
    [notice] = notices(app)
    contexts = [b["elements"][0]["text"] for b in notice["blocks"] if b["type"] == "context"]
    assert contexts == [":rotating_light: <@U0DAVE> declared INC-1; its war room is opening"]


def test_mark_as_noise_stores_an_audited_rule_that_quiets_the_next_alert_and_expires(app, clock):
    send(app, "runner-1", labels={"runner": "r1", "pool": "linux"})
    [notice] = notices(app)
    press(app, notice, "alert.noise", user="U0BOB")  # in the triage group
    form = app.sim.calls_to("views.open")[-1].args["view"]
    [scope] = [b for b in form["blocks"] if b.get("block_id") == "scope"]
    scopes = [option["value"] for option in scope["element"]["options"]]
    assert scopes == ["key", "labels"]
    submit(app, user="U0BOB", scope="labels", days="3", reason="runner pool is being replaced")
    [rule] = rows(TriageOverride)
    assert (rule.action, rule.created_by, rule.reason, rule.match) == (
        "noise",
        "U0BOB",
        "runner pool is being replaced",
        {"labels": {"pool": "linux", "runner": "r1"}},
    )
    assert rule.expires_at - rule.created_at == timedelta(days=3)
    [notice] = notices(app)
    assert any(
        "marked as noise by <@U0BOB>" in b["elements"][0]["text"]
        for b in notice["blocks"]
        if b["type"] == "context"
    )

    send(app, "runner-2", labels={"runner": "r1", "pool": "linux"})  # same label set: ignored
    send(app, "runner-3", labels={"runner": "r2", "pool": "linux"})  # other labels: low as before
    alerts = {a.dedup_key: (a.triage, a.rule) for a in rows(Alert)}
    assert alerts["webhook:ci:runner-2"] == ("ignore", f"slack-{rule.id}")
    assert alerts["webhook:ci:runner-3"] == ("low", "ci-low")
    assert len(notices(app)) == 2
    assert rows(TriageOverride)[0].applied == 1

    clock.days(3.01)
    send(app, "runner-4", labels={"runner": "r1", "pool": "linux"})  # expired: the YAML rules again
    assert {a.dedup_key: a.triage for a in rows(Alert)}["webhook:ci:runner-4"] == "low"


def test_route_to_sends_the_alert_s_next_notices_to_the_chosen_channel(app):
    send(app, "runner-1")
    [notice] = notices(app)
    press(app, notice, "alert.route", user="U0ALICE")  # an admin
    submit(app, user="U0ALICE", reason="the CI team owns runners", channel="C0TEAMCI")
    [rule] = rows(TriageOverride)
    assert (rule.action, rule.channel, rule.match) == ("route", "C0TEAMCI", {"key": "webhook:ci:runner-1"})
    # the alert resolves and fires again: its new notice goes to the team's channel
    send(app, "runner-1", status="resolved", occurred_at="2030-01-01T00:00:00Z")
    send(app, "runner-1", occurred_at="2030-01-01T01:00:00Z")
    routed = [m["text"] for m in app.sim.channel("C0TEAMCI")["messages"]]
    assert len(routed) == 1 and "Flaky build runner" in routed[0]


def test_only_admins_and_the_triage_group_make_rules(app):
    send(app, "runner-1")
    [notice] = notices(app)
    press(app, notice, "alert.noise", user="U0DAVE")
    submit(app, user="U0DAVE", reason="I do not like it")
    assert rows(TriageOverride) == []
    assert whispers(app, "U0DAVE") == [
        "Only Warroom admins and the triage group can change how alerts are triaged."
    ]


def test_a_form_without_a_reason_is_refused_in_the_form(app):
    send(app, "runner-1")
    press(app, notices(app)[0], "alert.noise", user="U0BOB")
    answer = submit(app, user="U0BOB", reason="  ")
    assert answer.json() == {
        "response_action": "errors",
        "errors": {"reason": "Say why, for whoever reviews the alert report."},
    }
    assert rows(TriageOverride) == []


def test_incident_triage_lists_and_reverts(app):
    send(app, "runner-1")
    press(app, notices(app)[0], "alert.noise", user="U0BOB")
    submit(app, user="U0BOB", reason="known flake")
    [rule] = rows(TriageOverride)
    app.command("triage", user="U0DAVE")
    app.settle()
    text = app.sim.calls_to("response_url")[-1].args["text"]
    assert f"#{rule.id} the alert Flaky build runner: marked as noise by <@U0BOB>" in text
    assert "known flake" in text
    app.command(f"triage revert {rule.id}", user="U0DAVE")  # not a triager
    app.settle()
    assert rows(TriageOverride)[0].reverted_at is None
    app.command(f"triage revert {rule.id}", user="U0BOB")
    app.settle()
    [rule] = rows(TriageOverride)
    assert rule.reverted_by == "U0BOB" and rule.reverted_at is not None
    send(app, "runner-1", status="resolved", occurred_at="2030-01-01T00:00:00Z")
    send(app, "runner-1", occurred_at="2030-01-01T01:00:00Z")
    assert rows(Alert)[0].triage == "low"
