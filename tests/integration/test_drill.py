"""`/incident drill`: a practice incident on a runbook's scenario, labelled everywhere, that
pages nobody and counts in no report."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot import clock
from bot.postmortem.report import incident_report
from storage.models import Incident, RemediationRun
from storage.session import in_session, session_scope

SCENARIO = "checkout-5xx-after-deploy"


def incidents() -> list[Incident]:
    with session_scope() as session:
        return list(session.exec(select(Incident)))


def test_drill_without_a_scenario_lists_the_runbooks_and_declares_nothing(warroom):
    answer = warroom.command("drill").json()["text"]
    assert answer.startswith("Pick a scenario to rehearse:")
    assert f"• `{SCENARIO}` — Checkout returns 5xx after a deploy" in answer
    answer = warroom.command("drill no-such-`thing` <!channel>").json()["text"]
    assert answer.startswith("`no-such-'thing' &lt;!channel&gt;` is not a runbook.")
    warroom.settle()
    assert incidents() == [] and warroom.slack_calls() == []


def test_a_drill_opens_a_labelled_war_room_with_its_runbook(warroom):
    answer = warroom.command(f"drill sev2 {SCENARIO}").json()["text"]
    assert answer == "Starting drill INC-1 (SEV2): Drill: Checkout returns 5xx after a deploy…"
    warroom.settle()
    [drill] = incidents()
    assert (drill.drill_of, drill.severity, drill.title) == (
        SCENARIO,
        2,
        "Drill: Checkout returns 5xx after a deploy",
    )
    room = warroom.sim.channel(drill.channel_id)
    assert room["name"] == "inc-1-drill-checkout-returns-5xx-after-a-deploy"
    assert room["topic"] == "DRILL · SEV2 · Investigating · IC @alice"
    card = room["messages"][0]
    assert "*Drill* rehearsing `checkout-5xx-after-deploy`: nobody is paged" in str(card["blocks"])
    assert any(m["text"].startswith("Runbook: Checkout returns 5xx after a deploy") for m in room["messages"])
    broadcast = warroom.sim.channel("C0BROADCAST")["messages"][-1]
    assert broadcast["text"].startswith("INC-1 drill started (SEV2)")
    assert ":test_tube:" in str(broadcast["blocks"])


def test_a_retried_drill_command_starts_one_drill(warroom):
    body = warroom.person.command_body(f"drill {SCENARIO}", trigger_id="1.2.drill")
    first = warroom.person.post(body, "application/x-www-form-urlencoded")
    again = warroom.person.post(body, "application/x-www-form-urlencoded")
    warroom.settle()
    assert first.json()["text"].startswith("Starting drill INC-1")
    assert again.json()["text"] == "INC-1 was already declared from this command."
    assert len(incidents()) == 1


def test_drills_count_in_no_report(warroom):
    warroom.command(f"drill {SCENARIO}")
    warroom.command("declare sev1 Real outage")
    warroom.settle()
    now = clock.now()
    figures = in_session(incident_report, now - timedelta(days=1), now + timedelta(minutes=1))
    assert figures["incidents"] == 1 and figures["by_severity"]["SEV1"] == 1


def test_a_drill_rehearses_runs_without_sending_and_says_so(warroom):
    warroom.command(f"drill {SCENARIO}")
    warroom.settle()
    [drill] = incidents()
    warroom.command("run restart-checkout-pods", channel=drill.channel_id)
    warroom.command("run rollback-checkout release=v41", channel=drill.channel_id)
    warroom.settle()
    with session_scope() as session:
        runs = {run.action_id: run for run in session.exec(select(RemediationRun))}
    restart = runs["restart-checkout-pods"]
    assert restart.dry_run and restart.state == "succeeded"  # the sample host is not allowlisted here
    assert "dry run: nothing was sent; a real run would be refused" in restart.outcome
    said = [m["text"] for m in warroom.sim.channel(drill.channel_id)["messages"]]
    messages = warroom.sim.channel(drill.channel_id)["messages"]
    request = next(m for m in messages if "asks to run" in str(m.get("blocks")))
    assert "*Dry run: approving it sends nothing" in str(request["blocks"])
    assert not any("Do it by hand" in line for line in said)


def test_a_closed_drill_s_postmortem_asks_nothing_about_detection(warroom):
    warroom.command(f"drill {SCENARIO}")
    warroom.settle()
    [drill] = incidents()
    warroom.command("resolve Rehearsed", channel=drill.channel_id)
    warroom.settle()
    warroom.command("close", channel=drill.channel_id)
    warroom.settle()
    warroom.fill_form(
        {"customer_impact": "none", "detection": "drill", "root_cause": "-", "fix_kind": "none"}
    )
    warroom.settle()
    [markdown] = [f["content"].decode() for f in warroom.sim.files.values() if f["title"].endswith(".md")]
    assert "A drill: @alice started it to rehearse `checkout-5xx-after-deploy`." in markdown
    assert "No alert fired" not in markdown
