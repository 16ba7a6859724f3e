"""Runbooks in the war room: posted once when they fit, listed on demand, read in a modal."""

from __future__ import annotations

from alembic import command
from sqlmodel import select

from bot.simulator.harness import LocalWarroom, local_settings
from storage.migrate import alembic_config
from storage.models import Incident, PostedRunbook
from storage.session import session_scope


def room(warroom, text: str = "declare sev2 Checkout returns 500s") -> str:
    warroom.command(text)
    warroom.settle()
    with session_scope() as session:
        return session.exec(select(Incident).order_by(Incident.id.desc())).first().channel_id


def runbook_posts(warroom, channel: str) -> list[dict]:
    return [m for m in warroom.sim.channel(channel)["messages"] if m["text"].startswith("Runbook:")]


def test_a_fitting_runbook_is_posted_with_why_and_a_read_button(warroom):
    channel = room(warroom)
    [post] = runbook_posts(warroom, channel)
    text = post["blocks"][0]["text"]["text"]
    assert "*Runbook: Checkout returns 5xx after a deploy*" in text
    assert "Matched on keywords checkout, 500s." in text
    assert "Roll back checkout to the previous release — medium risk, 1 approval" in text
    assert post["blocks"][1]["elements"][0]["action_id"] == "runbook.read"


def test_changing_severity_posts_only_runbooks_not_yet_shown(warroom):
    channel = room(warroom, "declare sev4 Checkout returns 500s and the queue backlog grows")
    assert [p["text"] for p in runbook_posts(warroom, channel)] == [
        "Runbook: Message queue backlog growing (keywords queue, backlog)"
    ]  # the checkout runbook is for SEV1-3 only
    warroom.command("sev 2", channel=channel)
    warroom.settle()
    warroom.command("sev 1", channel=channel)
    warroom.settle()
    titles = [p["text"].split(" (")[0] for p in runbook_posts(warroom, channel)]
    assert titles == [
        "Runbook: Message queue backlog growing",
        "Runbook: Checkout returns 5xx after a deploy",
    ]
    with session_scope() as session:
        assert len(session.exec(select(PostedRunbook)).all()) == 2


def test_runbooks_subcommand_lists_them_again_only_to_the_asker(warroom):
    channel = room(warroom)
    warroom.sim.clear_calls()
    answer = warroom.command("runbooks", channel=channel).json()
    assert answer["response_type"] == "ephemeral"
    assert "Checkout returns 5xx after a deploy" in answer["blocks"][0]["text"]["text"]
    assert warroom.slack_calls() == []
    elsewhere = warroom.command("INC-1 runbooks", channel="C0GENERAL").json()
    assert elsewhere["text"] == "1 runbook fits INC-1"
    none = warroom.command("runbooks", channel="C0GENERAL").json()
    assert none["text"].startswith("This channel is not an incident war room")


def test_read_runbook_opens_the_whole_runbook(warroom):
    channel = room(warroom)
    [post] = runbook_posts(warroom, channel)
    button = post["blocks"][1]["elements"][0]
    warroom.person.interaction(
        {
            "type": "block_actions",
            "user": {"id": "U0BOB", "team_id": "T0TEAM"},
            "team": {"id": "T0TEAM"},
            "trigger_id": "5.5.read",
            "channel": {"id": channel},
            "container": {"type": "message", "message_ts": post["ts"], "channel_id": channel},
            "actions": [{**button, "block_id": post["blocks"][1]["block_id"], "action_ts": "1.2"}],
        }
    )
    warroom.settle()
    [opened] = warroom.sim.calls_to("views.open")
    assert opened.ok
    blocks = opened.args["view"]["blocks"]
    assert blocks[0]["text"]["text"] == "Checkout returns 5xx after a deploy"
    assert "*Steps*" in blocks[1]["text"]["text"] and "*roll back*" in blocks[1]["text"]["text"]


def test_a_bad_runbook_file_is_skipped_with_a_logged_error(simulator, db, tmp_path, caplog):
    (tmp_path / "broken.md").write_text("---\nid: Broken\ntitle: x\n---\n", encoding="utf-8")
    app = LocalWarroom(simulator, local_settings(simulator, db, warroom_playbooks_dir=tmp_path))
    try:
        assert app.deps.catalog.playbooks == {}
        assert "runbook skipped" in caplog.text and "broken.md: id" in caplog.text
    finally:
        app.stop()


def test_the_migrations_describe_exactly_the_models(db):
    command.check(alembic_config(db))
