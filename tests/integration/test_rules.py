"""Rules on incident events end to end: Slack commands and PagerDuty change incidents, the rules
they set off invite, post, page and add follow-ups once per event (across a restart too), say so
on the timeline, and a bad rules file is refused naming the rule and the field."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from sqlmodel import select

from bot.cli import cli
from bot.deps import Deps
from bot.rules.model import BadRules, render
from bot.simulator.harness import LocalWarroom, local_settings
from storage.models import FollowUp, Incident, Job, TimelineEvent
from storage.session import in_session
from tests.pagerduty import pd_settings
from tests.waiting import wait_for

RULES = """
rules:
  - name: sev1-escalation
    on: [declared, severity_changed]
    when: {severity: [1]}
    do:
      - invite: [S0LEADS]
      - post: {channel: C0EXEC, text: "{ref} is {severity}: {title} ({channel}, IC {commander})"}
      - page: PSVC001
      - followup: "Review the paging policy after {ref}"
  - name: resolved-notice
    on: [resolved]
    when: {drill: false}
    do:
      - post: {channel: C0EXEC, text: "{ref} resolved"}
"""


@pytest.fixture
def app(simulator, db, tmp_path, pd):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    simulator.add_channel("exec", channel_id="C0EXEC", members=[simulator.bot_user_id])
    simulator.add_usergroup("S0LEADS", ["U0CAROL", "U0DAVE"])
    warroom = LocalWarroom(simulator, local_settings(simulator, db, warroom_rules=rules, **pd_settings(pd)))
    warroom.rules_file = rules
    yield warroom
    warroom.stop()


def exec_posts(app) -> list[str]:
    return [m["text"] for m in app.sim.channel("C0EXEC")["messages"]]


def applied() -> list[str]:
    rows = in_session(
        lambda s: list(s.exec(select(TimelineEvent).where(TimelineEvent.kind == "rule_applied")))
    )
    return sorted(row.text for row in rows)


def settled(app, count: int) -> list[str]:
    def done():
        app.settle()
        found = applied()
        return found if len(found) >= count else None

    found = wait_for(done)
    time.sleep(1)
    app.settle()
    return found


def test_a_rule_acts_once_when_its_event_happens_and_says_so(app, pd):
    app.command("declare sev3 Checkout returns 500s")
    app.settle()
    time.sleep(1)
    app.settle()
    assert exec_posts(app) == [] and applied() == []  # a SEV3 sets nothing off
    incident = in_session(lambda s: s.exec(select(Incident)).one())
    app.command("sev 1", channel=incident.channel_id)
    said = settled(app, 4)
    assert said == [
        "Rule sev1-escalation added the follow-up “Review the paging policy after INC-1”",
        "Rule sev1-escalation invited <!subteam^S0LEADS>",
        "Rule sev1-escalation paged PagerDuty service PSVC001",
        "Rule sev1-escalation posted in <#C0EXEC>",
    ]
    assert exec_posts(app) == [
        f"INC-1 is SEV1: Checkout returns 500s (<#{incident.channel_id}>, IC <@U0ALICE>)"
    ]
    assert {"U0CAROL", "U0DAVE"} <= set(app.sim.channel(incident.channel_id)["members"])
    assert [f.text for f in in_session(lambda s: list(s.exec(select(FollowUp))))] == [
        "Review the paging policy after INC-1"
    ]
    assert len(pd.incidents) == 1
    app.command("resolve rolled back", channel=incident.channel_id)
    settled(app, 5)
    assert exec_posts(app)[-1] == "INC-1 resolved"


def test_a_restart_does_not_run_a_rule_twice(simulator, db, tmp_path, pd):
    rules = tmp_path / "rules.yaml"
    rules.write_text(RULES)
    simulator.add_channel("exec", channel_id="C0EXEC", members=[simulator.bot_user_id])
    simulator.add_usergroup("S0LEADS", ["U0CAROL"])
    settings = local_settings(simulator, db, warroom_rules=rules, **pd_settings(pd))
    first = LocalWarroom(simulator, settings)
    try:
        first.command("declare sev1 Payments are down")
        settled(first, 4)
    finally:
        first.stop()
    again = LocalWarroom(simulator, settings)
    try:
        time.sleep(1.5)  # a few rounds over the timeline
        again.settle()
        assert len(exec_posts(again)) == 1 and len(applied()) == 4
        jobs = in_session(lambda s: list(s.exec(select(Job).where(Job.kind == "rule.action"))))
        assert len(jobs) == 4 and {job.state for job in jobs} == {"done"}
    finally:
        again.stop()


def test_a_post_never_writes_out_a_private_incident_s_title():
    incident = Incident(
        number=4,
        title="Acquisition of Initech",
        severity=1,
        private=True,
        commander_id="U0ALICE",
        declared_by="U0ALICE",
        declared_at=datetime.now(UTC),
    )
    assert render("{ref}: {title}", incident, "r") == "INC-4: a private incident"


def test_a_bad_rules_file_is_refused_naming_the_rule_and_field(simulator, db, tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - name: noisy\n    on: [exploded]\n    do: [{post: {channel: C0EXEC, text: hi}}]\n"
    )
    with pytest.raises(BadRules, match=r"rules\.0 \(noisy\)\.on: .*'exploded' is not a trigger"):
        Deps.from_settings(local_settings(simulator, db, warroom_rules=path))
    path.write_text(
        "rules:\n  - name: typo\n    on: [declared]\n    do: [{post: {channel: C0EXEC, text: '{titel}'}}]\n"
    )
    checked = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert checked.exit_code == 1 and "typo" in checked.output and "titel" in checked.output
    path.write_text(RULES)
    checked = CliRunner().invoke(cli, ["rules", "check", str(path)])
    assert checked.exit_code == 0 and "2 rules valid" in checked.output
