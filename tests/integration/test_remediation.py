"""Approved one-click remediation through signed requests, against the Slack simulator and a
local automation endpoint that counts calls."""

from __future__ import annotations

import json
import threading

import pytest
from sqlmodel import select

from bot.simulator.automation import AutomationEndpoint
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import RemediationAudit, RemediationRun
from storage.session import session_scope

PLAYBOOK = """---
id: checkout
title: Checkout broken
match:
  keywords: [checkout]
actions:
  - id: restart
    label: Restart checkout
    kind: webhook
    url: http://{host}/restart
    target: checkout pods
    risk: low
    requesters: [ic, ops]
    cooldown: 600
    idempotent: {idempotent}
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


@pytest.fixture
def endpoint():
    server = AutomationEndpoint()
    server.start()
    yield server
    server.stop()


def start(simulator, db, tmp_path, endpoint, idempotent: str = "false", **settings) -> LocalWarroom:
    books = tmp_path / "books"
    books.mkdir(exist_ok=True)
    (books / "checkout.md").write_text(PLAYBOOK.format(host=endpoint.host, idempotent=idempotent))
    values = {
        "warroom_playbooks_dir": books,
        "warroom_remediation_hosts": [endpoint.host],
        "warroom_remediation_http_hosts": ["127.0.0.1"],
        "warroom_admins": ["U0DAVE"],
    } | settings
    return LocalWarroom(simulator, local_settings(simulator, db, **values))


@pytest.fixture
def app(simulator, db, tmp_path, endpoint):
    warroom = start(simulator, db, tmp_path, endpoint)
    warroom.command("declare sev2 Checkout is down")
    warroom.settle()
    yield warroom
    warroom.stop()


def room(app) -> str:
    return app.sim.channel_by_name("inc-1-checkout-is-down")["id"]


def runbook_post(app) -> dict:
    return next(m for m in app.sim.channel(room(app))["messages"] if m["text"].startswith("Runbook:"))


def click(app, action_id: str, value: str, user: str = "U0ALICE", ts: str = "1.1") -> None:
    app.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": user, "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": f"4.4.{user}.{ts}",
            "channel": {"id": room(app)},
            "container": {"type": "message", "message_ts": ts, "channel_id": room(app)},
            "actions": [
                {"action_id": action_id, "block_id": "b", "type": "button", "value": value, "action_ts": ts}
            ],
        }
    )


def said(app) -> list[str]:
    return [m["text"] for m in app.sim.channel(room(app))["messages"]]


def told(app, user: str) -> list[str]:
    ephemeral = [c.args["text"] for c in app.sim.calls_to("chat.postEphemeral") if c.args["user"] == user]
    dms = [
        m["text"] for m in (app.sim.channel_by_name(f"d0{user[2:].lower()}") or {"messages": []})["messages"]
    ]
    return ephemeral + dms


def runs() -> list[RemediationRun]:
    with session_scope() as session:
        return list(session.exec(select(RemediationRun).order_by(RemediationRun.id)))


def audit(run_id: int) -> list[tuple[str, str]]:
    with session_scope() as session:
        rows = session.exec(
            select(RemediationAudit).where(RemediationAudit.run_id == run_id).order_by(RemediationAudit.id)
        )
        return [(row.from_state, row.to_state) for row in rows]


def test_the_runbook_offers_run_and_preview_for_each_action(app):
    buttons = runbook_post(app)["blocks"][1]["elements"]
    assert [b["text"]["text"] for b in buttons] == [
        "Read runbook",
        "Run: Restart checkout",
        "Preview",
        "Run: Roll back checkout",
        "Preview",
    ]


def test_a_low_risk_run_is_announced_sent_once_and_reported(app, endpoint):
    click(app, "remediation.run.restart", "checkout/restart")
    click(app, "remediation.run.restart", "checkout/restart", ts="1.2")  # a double click
    app.settle()
    assert [(h.path, h.idempotency_key) for h in endpoint.hits] == [("/restart", "warroom-run-1")]
    announce = next(t for t in said(app) if t.startswith(":arrow_forward: Running *Restart checkout*"))
    report = next(t for t in said(app) if t.startswith(":white_check_mark: *Restart checkout* succeeded"))
    assert said(app).index(announce) < said(app).index(report)
    assert "requested by <@U0ALICE>" in announce and '"done":"/restart"' in report
    assert audit(1) == [
        ("proposed", "requested"),
        ("requested", "approved"),
        ("approved", "announced"),
        ("announced", "running"),
        ("running", "succeeded"),
    ]
    # the second click either finds the first run open (and is told so) or meets its cooldown
    assert [run.state for run in runs()] in (["succeeded"], ["succeeded", "blocked"])


def test_cooldown_blocks_a_second_run(app, endpoint):
    click(app, "remediation.run.restart", "checkout/restart")
    app.settle()
    click(app, "remediation.run.restart", "checkout/restart", ts="2.2")
    app.settle()
    assert len(endpoint.hits) == 1
    assert any(
        t.startswith(":no_entry: *Restart checkout* did not run: Restart checkout ran less than")
        for t in said(app)
    )


def request_rollback(app, release: str = "v41") -> dict:
    click(app, "remediation.run.rollback", "checkout/rollback")
    app.settle()
    [opened] = app.sim.calls_to("views.open")
    view = opened.response["view"]
    app.sim.clear_calls()
    values = {
        "param.release": {"param.release": {"type": "plain_text_input", "value": release}},
        "preview": {"preview": {"type": "checkboxes", "selected_options": []}},
    }
    return (
        app.person.view_submission(view, values).json()
        if release.startswith("bad")
        else (app.person.view_submission(view, values), app.settle())[0]
    )


def test_medium_risk_needs_someone_else_and_the_vote_updates_the_request(app, endpoint):
    request_rollback(app)
    run = runs()[0]
    assert run.state == "requested" and endpoint.hits == []
    request = app.sim.channel(room(app))["messages"][-1]
    assert "asks to run *Roll back checkout*" in request["text"] or "Waiting" in request["text"]
    click(app, "remediation.approve", str(run.id), user="U0ALICE")
    click(app, "remediation.approve", str(run.id), user="U0BOB")
    app.settle()
    assert told(app, "U0ALICE") == ["You asked for this run; someone else must approve it (two-person rule)."]
    assert told(app, "U0BOB") == ["Only the IC, the ops (or a Warroom admin) may approve Roll back checkout."]
    app.command("role ops <@U0CAROL|carol>", channel=room(app))
    app.settle()
    click(app, "remediation.approve", str(run.id), user="U0CAROL")
    app.settle()
    assert [(h.path, h.body["parameters"]) for h in endpoint.hits] == [("/rollback", {"release": "v41"})]
    updates = app.sim.calls_to("chat.update")
    assert any("Approved by <@U0CAROL>" in str(u.args["blocks"]) for u in updates)
    assert "approved by <@U0CAROL>" in next(t for t in said(app) if t.startswith(":arrow_forward:"))


def test_fifty_simultaneous_approvals_dispatch_once(app, endpoint):
    request_rollback(app)
    run = runs()[0]
    app.deps.settings.warroom_admins = ["U0DAVE", "U0BOB", "U0CAROL"]
    threads = [
        threading.Thread(
            target=click,
            args=(app, "remediation.approve", str(run.id)),
            kwargs={"user": ("U0BOB", "U0CAROL", "U0DAVE")[n % 3], "ts": f"9.{n}"},
        )
        for n in range(50)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    app.settle()
    assert len(endpoint.hits) == 1 and runs()[0].state == "succeeded"


def test_hostile_parameters_are_refused_in_the_form_and_the_command(app, endpoint):
    errors = request_rollback(app, release="bad;rm")
    assert errors["response_action"] == "errors" and "expected form" in errors["errors"]["param.release"]
    answer = app.command("run rollback release=$(id)", channel=room(app)).json()
    assert "expected form" in answer["text"]
    answer = app.command("run rollback release=v1 extra=1", channel=room(app)).json()
    assert "`extra` is not a parameter of rollback" in answer["text"]
    assert runs() == [] and endpoint.hits == []


def test_a_severity_change_voids_pending_requests_and_says_so(app, endpoint):
    request_rollback(app)
    app.command("sev 1", channel=room(app))
    app.settle()
    assert any(
        "Voided pending remediation requests because the severity changed to SEV1" in t for t in said(app)
    )
    app.deps.settings.warroom_admins = ["U0DAVE"]
    click(app, "remediation.approve", str(runs()[0].id), user="U0DAVE")
    app.settle()
    assert told(app, "U0DAVE") == ["This request is already cancelled."] and endpoint.hits == []


def test_a_request_nobody_approves_expires_with_a_line_in_the_room_and_may_be_asked_again(
    clock, app, endpoint
):
    request_rollback(app)
    clock.minutes(16)
    app.deps.jobs.wake()
    app.settle()
    assert runs()[0].state == "expired" and endpoint.hits == []
    assert (
        ":hourglass: The request for *Roll back checkout* expired after 15 min without approval; "
        "ask again if it is still needed." in said(app)
    )
    click(app, "remediation.approve", str(runs()[0].id), user="U0DAVE")
    app.settle()
    assert told(app, "U0DAVE") == ["This request is already expired."] and endpoint.hits == []
    app.command("run rollback release=v41", channel=room(app))
    app.settle()
    assert [run.state for run in runs()] == ["expired", "requested"]


def test_the_kill_switch_stops_runs_and_is_for_admins(app, endpoint, clock):
    assert app.command("killswitch on", user="U0ALICE", channel=room(app)).status_code == 200
    app.settle()
    assert [c.args["text"] for c in app.sim.calls_to("response_url")][-1] == (
        "Only a Warroom admin (WARROOM_ADMINS) can use the kill switch."
    )
    app.command("killswitch on restart Pods are being migrated.", user="U0DAVE", channel=room(app))
    app.settle()
    assert [c.args["text"] for c in app.sim.calls_to("response_url")][-1] == (
        "Kill switch on: `checkout/restart` stopped, effective for the next run."
    )
    click(app, "remediation.run.restart", "checkout/restart")
    app.settle()
    assert endpoint.hits == []
    assert said(app)[-1] == (
        ":no_entry: *Restart checkout* did not run: blocked by the kill switch on `checkout/restart`, "
        "engaged by <@U0DAVE> at 2026-11-24 09:00 UTC: Pods are being migrated. "
        "A Warroom admin releases it with `/incident killswitch off checkout/restart`."
    )
    app.command("killswitch off checkout/restart", user="U0DAVE", channel=room(app))
    app.settle()
    click(app, "remediation.run.restart", "checkout/restart", ts="3.3")
    app.settle()
    assert len(endpoint.hits) == 1


def test_the_kill_switch_on_all_remediation_says_how_to_release_it(app, endpoint, clock):
    clock.minutes(5)
    app.command("killswitch on all", user="U0DAVE", channel=room(app))
    app.settle()
    click(app, "remediation.run.restart", "checkout/restart")
    app.settle()
    assert endpoint.hits == []
    assert said(app)[-1] == (
        ":no_entry: *Restart checkout* did not run: blocked by the kill switch on all remediation, "
        "engaged by <@U0DAVE> at 2026-11-24 09:05 UTC. "
        "A Warroom admin releases it with `/incident killswitch off`."
    )


def test_a_kill_switch_reason_without_an_action_asks_for_all(app):
    answer = app.command("killswitch on deploy freeze", user="U0DAVE", channel=room(app)).json()["text"]
    assert answer == (
        "No runbook has an action `deploy`; `/incident runbooks` lists them. "
        "For all remediation: `/incident killswitch on all [reason…]`."
    )


def test_preview_shows_the_request_and_sends_nothing(app, endpoint):
    click(app, "remediation.preview.restart", "checkout/restart")
    app.settle()
    [preview] = told(app, "U0ALICE")
    assert preview.startswith("Preview of *Restart checkout* (nothing was sent)")
    assert f"POST http://{endpoint.host}/restart" in preview and "Idempotency-Key" in preview
    assert endpoint.hits == [] and runs() == []


def test_dry_run_setting_turns_every_run_into_a_preview(simulator, db, tmp_path, endpoint):
    app = start(simulator, db, tmp_path, endpoint, warroom_dry_run=True)
    try:
        app.command("declare sev2 Checkout is down")
        app.settle()
        click(app, "remediation.run.restart", "checkout/restart")
        app.settle()
        assert endpoint.hits == []
        assert any("succeeded in 0.0 s: dry run: nothing was sent" in t for t in said(app))
    finally:
        app.stop()


def test_in_a_drill_every_run_is_a_dry_run(simulator, db, tmp_path, endpoint):
    app = start(simulator, db, tmp_path, endpoint)
    try:
        app.command("drill checkout")
        app.settle()
        drill = app.sim.channel_by_name("inc-1-drill-checkout-broken")["id"]
        assert any(
            m["text"].startswith("Runbook: Checkout broken") for m in app.sim.channel(drill)["messages"]
        )
        app.person.interaction(
            {
                "type": "block_actions",
                "user": {"id": "U0ALICE", "team_id": "T0TEAM"},
                "team": {"id": "T0TEAM"},
                "trigger_id": "4.4.drill",
                "channel": {"id": drill},
                "container": {"type": "message", "message_ts": "1.1", "channel_id": drill},
                "actions": [
                    {
                        "action_id": "remediation.run.restart",
                        "block_id": "b",
                        "type": "button",
                        "value": "checkout/restart",
                        "action_ts": "1.1",
                    }
                ],
            }
        )
        app.settle()
        [run] = runs()
        assert run.dry_run and run.state == "succeeded" and endpoint.hits == []
    finally:
        app.stop()


def test_the_postmortem_of_a_scripted_incident_matches_what_happened(
    simulator, db, tmp_path, endpoint, clock
):
    """Declare, hand over, raise the severity, a rollback approved by a second person, resolve,
    close through the form: the draft's JSON says exactly that, field by field."""
    app = start(simulator, db, tmp_path, endpoint)
    try:

        def at(minutes: int, text: str, user: str = "U0BOB") -> None:
            clock.minutes(minutes)
            app.command(text, user=user, channel=room(app) if minutes else "C0GENERAL")
            app.settle()

        at(0, "declare sev2 Checkout is down", user="U0ALICE")
        at(2, "ic <@U0BOB|bob>", user="U0ALICE")
        at(5, "sev 1")
        at(6, "role ops <@U0CAROL|carol>")
        at(8, "run rollback release=v41")
        clock.minutes(10)
        click(app, "remediation.approve", str(runs()[0].id), user="U0CAROL")
        app.settle()
        at(30, "resolve Rolled back to v41")
        at(40, "close")
        app.fill_form(
            {
                "customer_impact": "Checkout failed",
                "detection": "A customer",
                "root_cause": "v42",
                "fix_kind": "stopgap",
            },
            user="U0BOB",
        )
        app.settle()
        [json_file] = [f for f in app.sim.files.values() if f["title"] == "INC-1-postmortem.json"]
        draft = json.loads(json_file["content"])
    finally:
        app.stop()
    assert [(s["severity"], s["by"], s["at"]) for s in draft["severity_history"]] == [
        ("SEV2", "U0ALICE", "2026-11-24T09:00:00Z"),
        ("SEV1", "U0BOB", "2026-11-24T09:05:00Z"),
    ]
    assert [(s["status"], s["by"]) for s in draft["status_history"]] == [
        ("investigating", "U0ALICE"),
        ("resolved", "U0BOB"),
        ("closed", "U0BOB"),
    ]
    assert [(r["role"], r["user_id"], r["assigned_by"]) for r in draft["roles"]] == [
        ("commander", "U0ALICE", "U0ALICE"),
        ("commander", "U0BOB", "U0ALICE"),
        ("ops", "U0CAROL", "U0BOB"),
    ]
    [run] = draft["remediation"]
    assert (run["action_id"], run["requested_by"], run["approvers"], run["state"], run["automatic"]) == (
        "rollback",
        "U0BOB",
        ["U0CAROL"],
        "succeeded",
        False,
    )
    assert (run["requested_at"], run["dispatched_at"]) == ("2026-11-24T09:08:00Z", "2026-11-24T09:10:00Z")
    metrics = draft["metrics"]
    assert (metrics["time_to_acknowledge"], metrics["time_to_mitigate"], metrics["time_to_resolve"]) == (
        0,
        600,
        1800,
    )
    assert metrics["time_in_severity"] == {"SEV2": 300, "SEV1": 1500}
    assert draft["impact"]["fix_kind"] == "stopgap" and draft["ic_handovers"] == 1
    assert draft["detection"]["method"] == "person" and draft["closed_at"] == "2026-11-24T09:40:00Z"
    assert any("stopgap" in question for question in draft["questions"])
