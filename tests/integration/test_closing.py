"""Closing through the close form, the postmortem draft posted in the war room, and its export."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import datetime, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import insert
from sqlmodel import select

from bot.cli import cli
from bot.flows.closing import post_missing_drafts
from storage.models import Incident, PostmortemReview, TimelineEvent, table
from storage.session import session_scope

ANSWERS = {
    "customer_impact": "Checkout failed for card payments <!channel>",
    "detection": "Customers told support",
    "users_affected": "1200",
    "impact_minutes": "41",
    "lost_business": "about 300 orders",
    "root_cause": "Deploy 4512 shipped a bad config",
    "fix_kind": "stopgap",
}


@pytest.fixture
def room(warroom):
    """INC-1 declared and resolved by alice (its IC); the simulator's log cleared."""
    warroom.command("declare sev2 Checkout returns 500s")
    warroom.settle()
    channel = incident().channel_id
    warroom.command("resolve Rolled back to v41", channel=channel)
    warroom.settle()
    warroom.sim.clear_calls()
    return channel


def incident() -> Incident:
    with session_scope() as session:
        return session.exec(select(Incident).where(Incident.number == 1)).one()


def review() -> PostmortemReview | None:
    with session_scope() as session:
        return session.exec(select(PostmortemReview)).first()


def told(warroom) -> list[str]:
    calls = [*warroom.sim.calls_to("response_url"), *warroom.sim.calls_to("chat.postEphemeral")]
    return [call.args["text"] for call in calls]


def open_close_form(warroom, room, user="U0ALICE") -> dict | None:
    warroom.sim.clear_calls()
    warroom.command("close", user=user, channel=room)
    warroom.settle()
    opened = warroom.sim.calls_to("views.open")
    return opened[-1].args["view"] if opened else None


def close(warroom, room, answers=ANSWERS, user="U0ALICE"):
    view = open_close_form(warroom, room, user)
    warroom.sim.clear_calls()
    response = warroom.fill_form(answers, view=view, user=user)
    warroom.settle()
    return response


def test_closing_asks_what_only_people_know(warroom, room):
    view = open_close_form(warroom, room)
    assert view is not None and view["callback_id"] == "incident.close"
    assert [block.get("block_id") for block in view["blocks"][1:]] == [
        "customer_impact",
        "detection",
        "users_affected",
        "impact_minutes",
        "lost_business",
        "root_cause",
        "fix_kind",
    ]
    assert incident().status == "resolved"


def test_empty_or_too_long_answers_come_back_as_field_errors_and_change_nothing(warroom, room):
    open_close_form(warroom, room)
    answers = {**ANSWERS, "customer_impact": "  ", "root_cause": "x" * 3001, "users_affected": "-3"}
    answers.pop("fix_kind")
    response = warroom.fill_form(answers)
    warroom.settle()
    errors = response.json()["errors"]
    assert response.json()["response_action"] == "errors"
    assert set(errors) == {"customer_impact", "root_cause", "users_affected", "fix_kind"}
    assert "3001 characters" in errors["root_cause"]
    assert incident().status == "resolved" and review() is None


def test_closing_posts_the_draft_in_the_room_and_links_it_from_card_and_broadcast(warroom, room):
    response = close(warroom, room)
    assert response.status_code == 200 and response.content == b""
    closed = incident()
    assert closed.status == "closed"
    methods = [m for m in warroom.slack_calls() if m != "users.info"]
    # the closing line; the files sent; the draft message; its link; then its files shared under it
    assert methods[:5] == [
        "chat.postMessage",
        "files.getUploadURLExternal",
        "files.getUploadURLExternal",
        "chat.postMessage",
        "chat.getPermalink",
    ]
    assert methods.count("files.completeUploadExternal") == 1 and methods.count("chat.postMessage") == 3

    closing_line, draft = warroom.sim.calls_to("chat.postMessage")[:2]
    assert closing_line.args["channel"] == room
    assert closing_line.args["text"].startswith("<@U0ALICE> closed INC-1.")
    assert "will be archived" in closing_line.args["text"]
    assert draft.args["channel"] == room and "Postmortem draft for INC-1" in str(draft.args["blocks"])

    [complete] = warroom.sim.calls_to("files.completeUploadExternal")
    assert complete.args["channel_id"] == room and complete.args["thread_ts"] == draft.response["ts"]
    assert [f["title"] for f in complete.args["files"]] == ["INC-1-postmortem.md", "INC-1-postmortem.json"]
    files = {f["title"]: f for f in warroom.sim.files.values()}
    markdown = files["INC-1-postmortem.md"]["content"].decode()
    assert "INC-1" in markdown and "Checkout returns 500s" in markdown
    assert "Deploy 4512 shipped a bad config" in markdown
    data = json.loads(files["INC-1-postmortem.json"]["content"])
    assert data["ref"] == "INC-1"

    stored = review()
    assert stored is not None and stored.fix_kind == "stopgap" and stored.users_affected == 1200
    assert stored.customer_impact == ANSWERS["customer_impact"] and stored.draft_link
    card = warroom.sim.channel(room)["messages"][0]
    assert stored.draft_link in str(card["blocks"])
    assert all(block["type"] != "actions" for block in card["blocks"])
    broadcast = warroom.sim.channel("C0BROADCAST")["messages"][-1]["text"]
    assert "closed INC-1" in broadcast and stored.draft_link in broadcast


def test_only_a_resolved_incident_closes_and_only_by_its_commander(warroom, room):
    assert open_close_form(warroom, room, user="U0BOB") is None
    assert "Only the incident commander" in told(warroom)[0]
    warroom.command("reopen", channel=room)
    warroom.settle()
    assert open_close_form(warroom, room) is None
    assert "resolve it first" in told(warroom)[0]
    assert "takes no text" in warroom.command("close now", channel=room).json()["text"]


def test_closing_twice_gives_one_postmortem(warroom, room):
    view = open_close_form(warroom, room)
    assert view is not None
    state = {name: {name: {"value": value}} for name, value in ANSWERS.items()}
    state["fix_kind"] = {"fix_kind": {"selected_option": {"value": "stopgap"}}}
    warroom.sim.clear_calls()
    threads = [threading.Thread(target=warroom.person.view_submission, args=(view, state)) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warroom.settle()
    assert len(warroom.sim.calls_to("files.completeUploadExternal")) == 1
    refusals = told(warroom)
    assert len(refusals) == 4 and all("INC-1" in line for line in refusals)
    assert open_close_form(warroom, room) is None
    assert told(warroom) == ["INC-1 is already closed (changed by <@U0ALICE>)."]


def test_the_card_offers_close_once_resolved(warroom, room):
    card = warroom.sim.channel(room)["messages"][0]
    actions = next(block for block in card["blocks"] if block["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]][-1] == "card.close"


def test_postmortem_command_posts_a_fresh_draft_before_and_after_closing(warroom, room):
    warroom.command("note Found the config diff", channel=room)
    warroom.settle()
    warroom.sim.clear_calls()
    warroom.command("postmortem", channel=room)
    warroom.settle()
    assert warroom.slack_calls().count("files.completeUploadExternal") == 1
    assert told(warroom)[0].startswith("Posted the postmortem draft:")
    first = [f for f in warroom.sim.files.values() if f["title"].endswith(".md")][-1]["content"].decode()
    assert "Found the config diff" in first and "Checkout failed" not in first
    close(warroom, room)
    warroom.sim.clear_calls()
    warroom.command("postmortem", user="U0BOB", channel=room)  # anyone in the room
    warroom.settle()
    assert warroom.slack_calls().count("files.completeUploadExternal") == 1
    newest = [f for f in warroom.sim.files.values() if f["title"].endswith(".md")][-1]["content"].decode()
    assert "Found the config diff" in newest and "Checkout failed" in newest


def test_someone_outside_a_private_incident_cannot_post_its_draft(warroom):
    warroom.sim.clear_calls()
    warroom.command("declare sev2 Secret thing")
    warroom.settle()
    with session_scope() as session:
        row = session.exec(select(Incident)).one()
        row.private = True
        session.add(row)
    warroom.sim.clear_calls()
    warroom.command("INC-1 postmortem", user="U0BOB", channel="C0GENERAL")
    warroom.settle()
    assert "Only the people in its war room can see a private incident" in told(warroom)[0]
    assert "files.completeUploadExternal" not in warroom.slack_calls()


def test_a_failed_upload_still_closes_and_announces_and_the_draft_follows_once(warroom, room):
    warroom.sim.fail("files.getUploadURLExternal", "internal_error")
    close(warroom, room)
    assert incident().status == "closed" and review().drafted_at is None
    assert told(warroom) == [
        "INC-1 is closed, but its postmortem draft could not be posted (Slack refused "
        "files.getUploadURLExternal: internal_error). Warroom tries again in a few minutes, or run "
        "`/incident postmortem`."
    ]
    lines = [m["text"] for m in warroom.sim.channel(room)["messages"]]
    assert not any("Postmortem draft" in line for line in lines)  # no draft message without its files
    assert "closed INC-1" in warroom.sim.channel("C0BROADCAST")["messages"][-1]["text"]
    closed_at = incident().closed_at

    async def two_processes(at: datetime) -> None:
        await asyncio.gather(post_missing_drafts(warroom.deps, at), post_missing_drafts(warroom.deps, at))

    for minutes, posted in ((1, 0), (3, 1), (4, 0)):  # after a grace period, once, whoever looks
        warroom.sim.clear_calls()
        asyncio.run(two_processes(closed_at + timedelta(minutes=minutes)))
        warroom.settle()
        assert len(warroom.sim.calls_to("files.completeUploadExternal")) == posted
    assert review().drafted_at is not None
    ready = warroom.sim.channel("C0BROADCAST")["messages"][-1]["text"]
    assert f"<{review().draft_link}|Postmortem draft for INC-1> is ready." in ready


def test_an_archived_room_is_not_reopened_and_its_draft_is_exported_instead(warroom, room):
    close(warroom, room)
    with session_scope() as session:
        row = session.exec(select(Incident)).one()
        row.archived_at = row.closed_at
        session.add(row)
    warroom.sim.clear_calls()
    for command in ("INC-1 reopen", "INC-1 postmortem"):
        warroom.command(command, channel="C0GENERAL")
        warroom.settle()
    assert told(warroom) == [
        "INC-1's war room is archived, so it cannot be reopened: declare a new incident and mention "
        "INC-1 in its title or summary.",
        "INC-1's war room is archived or was never opened, so the draft cannot be posted there; "
        "`warroom export INC-1` writes it from the command line.",
    ]
    assert incident().status == "closed"


def test_ten_thousand_timeline_events_upload_and_keep_the_card_within_limits(warroom, room):
    start = incident().declared_at
    rows = [
        {"incident_id": incident().id, "at": start + timedelta(seconds=i), "kind": "note", "text": f"n{i}"}
        for i in range(10_000)
    ]
    with session_scope() as session:
        session.execute(insert(table(TimelineEvent)), [{**row, "data": {}} for row in rows])
    close(warroom, room)
    files = {f["title"]: f for f in warroom.sim.files.values()}
    markdown = files["INC-1-postmortem.md"]["content"].decode()
    assert "n9999" in markdown
    assert len(json.loads(files["INC-1-postmortem.json"]["content"])["timeline"]) > 10_000
    assert len(warroom.sim.calls_to("chat.update")[-1].args["blocks"]) <= 50


def _export(monkeypatch, db, *args):
    monkeypatch.setenv("DATABASE_URL", db)
    return CliRunner().invoke(cli, ["export", *args])


def test_export_writes_the_draft_as_markdown_or_json(warroom, room, monkeypatch, tmp_path):
    close(warroom, room)
    result = _export(monkeypatch, warroom.settings.database_url, "INC-1")
    assert result.exit_code == 0, result.output
    assert "INC-1" in result.output and "Deploy 4512 shipped a bad config" in result.output
    target = tmp_path / "pm.json"
    result = _export(
        monkeypatch, warroom.settings.database_url, "INC-1", "--format", "json", "-o", str(target)
    )
    assert result.exit_code == 0, result.output
    assert json.loads(target.read_text())["ref"] == "INC-1"


def test_export_refuses_unknown_and_private_incidents_to_outsiders(warroom, room, monkeypatch):
    url = warroom.settings.database_url
    result = _export(monkeypatch, url, "INC-9")
    assert result.exit_code != 0 and "INC-9 does not exist" in result.output
    assert "like INC-7" in _export(monkeypatch, url, "nine").output
    with session_scope() as session:
        row = session.exec(select(Incident)).one()
        row.private = True
        session.add(row)
    for reader in ([], ["--as", "U0BOB"]):
        result = _export(monkeypatch, url, "INC-1", *reader)
        assert result.exit_code != 0 and "INC-1 is private" in result.output
    assert _export(monkeypatch, url, "INC-1", "--as", "U0ALICE").exit_code == 0


def test_report_incidents_counts_what_was_recorded(warroom, room, monkeypatch):
    close(warroom, room)
    monkeypatch.setenv("DATABASE_URL", warroom.settings.database_url)
    result = CliRunner().invoke(cli, ["report", "incidents", "--since", "1d", "--format", "json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["incidents"] == 1 and figures["by_severity"]["SEV2"] == 1
    assert figures["mttr"]["n"] == 1
    markdown = CliRunner().invoke(cli, ["report", "incidents"])
    assert markdown.exit_code == 0 and "SEV2" in markdown.output
    assert (
        "use a number and d, h or m"
        in CliRunner().invoke(cli, ["report", "incidents", "--since", "x"]).output
    )


def test_export_to_a_path_that_cannot_be_written_says_so_in_one_line(warroom, room, monkeypatch, tmp_path):
    result = _export(monkeypatch, warroom.settings.database_url, "INC-1", "-o", str(tmp_path / "no" / "x.md"))
    assert result.exit_code != 0 and "Cannot write" in result.output and "Traceback" not in result.output


def test_closing_again_after_a_reopen_starts_from_the_earlier_answers(warroom, room):
    close(warroom, room)
    for command in ("reopen", "resolve Fixed for real"):  # one after the other, as a person would
        warroom.command(command, channel=room)
        warroom.settle()
    view = open_close_form(warroom, room)
    assert view is not None
    elements = {block["block_id"]: block["element"] for block in view["blocks"][1:]}
    assert elements["customer_impact"]["initial_value"] == ANSWERS["customer_impact"]
    assert elements["users_affected"]["initial_value"] == "1200"
    assert elements["fix_kind"]["initial_option"]["value"] == "stopgap"
    warroom.sim.clear_calls()
    warroom.fill_form({**ANSWERS, "fix_kind": "permanent"}, view=view)
    warroom.settle()
    assert review().fix_kind == "permanent" and len(warroom.sim.calls_to("files.completeUploadExternal")) == 1
