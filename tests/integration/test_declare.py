"""Declaring through signed HTTP requests to the real app, against the Slack simulator."""

from __future__ import annotations

import threading

from sqlmodel import select

from storage.models import Incident, ProcessedRequest, RoleAssignment, TimelineEvent
from storage.session import session_scope
from tests.rooms import form, open_declare_modal


def incidents() -> list[Incident]:
    with session_scope() as session:
        return list(session.exec(select(Incident).order_by(Incident.number)).all())


def events(incident_id: int) -> list[str]:
    with session_scope() as session:
        rows = session.exec(select(TimelineEvent).where(TimelineEvent.incident_id == incident_id))
        return [row.kind for row in rows]


def test_declare_acks_at_once_then_opens_the_war_room(warroom):
    response = warroom.command("declare sev2 Checkout returns 500s")

    assert response.status_code == 200
    assert response.json()["text"] == "Declaring INC-1 (SEV2): Checkout returns 500s…"
    assert response.json().get("response_type", "ephemeral") == "ephemeral"
    warroom.settle()

    calls = warroom.slack_calls()
    assert calls[:2] == ["conversations.create", "conversations.invite"]
    # card, topic and broadcast go out side by side once the declarer is in
    assert sorted(calls[2:-1]) == sorted(
        ["chat.postMessage", "users.info", "chat.postMessage", "conversations.setTopic", "pins.add"]
    )
    assert calls[-1] == "chat.postMessage"  # once the room is ready: the runbook that fits
    assert calls.index("users.info") < calls.index("conversations.setTopic")
    create = warroom.sim.calls_to("conversations.create")[0]
    assert create.args["name"] == "inc-1-checkout-returns-500s"
    invite = warroom.sim.calls_to("conversations.invite")[0]
    assert invite.args["users"] == "U0ALICE"

    channel = warroom.sim.channel_by_name("inc-1-checkout-returns-500s")
    assert channel["topic"] == "SEV2 · Investigating · IC @alice"
    assert "U0ALICE" in channel["members"]
    card, runbook = channel["messages"]
    assert runbook["text"] == "Runbook: Checkout returns 5xx after a deploy (keywords checkout, 500s)"
    assert channel["pins"] == [card["ts"]]
    assert card["blocks"][0]["text"]["text"] == "INC-1 · Checkout returns 500s"
    fields = " ".join(f["text"] for f in card["blocks"][1]["fields"])
    assert "SEV2" in fields and "Investigating" in fields and "<@U0ALICE>" in fields

    [announcement] = warroom.sim.channel("C0BROADCAST")["messages"]
    assert "INC-1 declared" in announcement["blocks"][0]["text"]["text"]
    assert f"<#{channel['id']}>" in announcement["blocks"][0]["text"]["text"]

    [ready] = warroom.sim.calls_to("response_url")
    assert ready.args["text"].startswith(f"INC-1 is open in <#{channel['id']}>")

    [incident] = incidents()
    assert (incident.number, incident.severity, incident.status) == (1, 2, "investigating")
    assert incident.channel_id == channel["id"] and incident.commander_id == "U0ALICE"
    assert incident.card_ts == card["ts"] and incident.room_ready_at is not None
    assert events(incident.id) == ["declared", "channel_created", "announced"]
    with session_scope() as session:
        roles = session.exec(select(RoleAssignment)).all()
        assert [(r.role, r.user_id) for r in roles] == [("commander", "U0ALICE")]


def test_without_broadcast_channel_a_declaration_takes_six_calls_or_fewer(warroom):
    warroom.deps.settings.warroom_broadcast_channel = None
    warroom.command("declare Payments degraded")
    warroom.settle()
    assert len(warroom.slack_calls()) <= 6
    assert warroom.sim.channel("C0BROADCAST")["messages"] == []


def test_declare_without_title_opens_the_modal(warroom):
    view = open_declare_modal(warroom, "declare sev1")
    assert view["callback_id"] == "declare"
    blocks = {block["block_id"]: block for block in view["blocks"]}
    assert set(blocks) == {"title", "severity", "summary", "private"}
    assert blocks["severity"]["element"]["initial_option"]["value"] == "sev1"
    assert incidents() == []


def test_modal_submission_declares_with_summary(warroom):
    view = open_declare_modal(warroom)
    response = warroom.person.view_submission(
        view, form("Search is slow", "sev2", summary="p99 at 4s since 09:10")
    )
    assert response.status_code == 200 and response.content == b""
    warroom.settle()
    [incident] = incidents()
    assert (incident.title, incident.severity, incident.summary) == (
        "Search is slow",
        2,
        "p99 at 4s since 09:10",
    )
    card = warroom.sim.channel(incident.channel_id)["messages"][0]
    assert "p99 at 4s since 09:10" in str(card["blocks"])
    [ready] = warroom.sim.calls_to("response_url")
    assert ready.args["text"].startswith("INC-1 is open in")


def test_modal_rejects_empty_or_long_title_in_its_own_ack(warroom):
    view = open_declare_modal(warroom)
    for title, expected in (("   ", "Give the incident a title"), ("x" * 121, "keep it to 120")):
        body = warroom.person.view_submission(view, form(title)).json()
        assert body["response_action"] == "errors"
        assert expected in body["errors"]["title"]
    assert incidents() == [] and warroom.slack_calls() == ["views.open"]


def test_a_double_submitted_modal_declares_once(warroom):
    view = open_declare_modal(warroom)
    warroom.person.view_submission(view, form("Queue backlog"))
    warroom.person.view_submission(view, form("Queue backlog"))
    warroom.settle()
    assert len(incidents()) == 1
    assert len(warroom.sim.calls_to("conversations.create")) == 1


def test_private_incident_is_announced_without_its_title(warroom):
    view = open_declare_modal(warroom)
    response = warroom.person.view_submission(view, form("Acquisition leak", "sev1", private=True))
    assert response.status_code == 200
    warroom.settle()
    create = warroom.sim.calls_to("conversations.create")[0]
    assert create.args["is_private"] == "1"  # a form field: slack_sdk sends booleans as 1/0
    [announcement] = warroom.sim.channel("C0BROADCAST")["messages"]
    text = announcement["text"] + str(announcement["blocks"])
    assert "INC-1 declared" in text and "private" in text
    assert "Acquisition" not in text and create.response["channel"]["id"] not in text


def test_user_text_is_escaped_so_nobody_is_pinged(warroom):
    warroom.command("declare <!channel> checkout down & <@U0BOB>")
    warroom.settle()
    channel = warroom.sim.channel_by_name("inc-1-channel-checkout-down-u0bob")
    card = channel["messages"][0]
    announcement = warroom.sim.channel("C0BROADCAST")["messages"][0]
    for text in (card["text"], announcement["text"], str(announcement["blocks"])):
        assert "<!channel>" not in text and "<@U0BOB>" not in text
    assert "&lt;!channel&gt;" in announcement["blocks"][0]["text"]["text"]


def test_a_taken_channel_name_gets_a_suffix(warroom):
    warroom.sim.add_channel("inc-1-checkout-down", is_archived=True)
    warroom.command("declare Checkout down")
    warroom.settle()
    names = [c.args["name"] for c in warroom.sim.calls_to("conversations.create")]
    assert names == ["inc-1-checkout-down", "inc-1-checkout-down-2"]
    assert incidents()[0].channel_name == "inc-1-checkout-down-2"


def test_a_retried_command_declares_once(warroom):
    body = warroom.person.command_body(
        "declare sev2 Checkout down",
        trigger_id="9.9.retry",
        response_url=warroom.sim.response_url("r"),
    )
    first = warroom.person.post(body, "application/x-www-form-urlencoded")
    second = warroom.person.post(body, "application/x-www-form-urlencoded")
    warroom.settle()
    assert first.json()["text"].startswith("Declaring INC-1")
    assert second.json()["text"] == "INC-1 was already declared from this command."
    assert len(incidents()) == 1
    assert len(warroom.sim.calls_to("conversations.create")) == 1
    with session_scope() as session:
        assert len(session.exec(select(ProcessedRequest)).all()) == 1


def test_ten_simultaneous_declarations_get_ten_numbers_and_channels(warroom):
    warroom.sim.set_latency(0.05)
    responses = []

    def declare(n: int) -> None:
        responses.append(warroom.command(f"declare sev3 Outage number {n}"))

    threads = [threading.Thread(target=declare, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    warroom.settle()
    assert all(r.status_code == 200 for r in responses)
    rows = incidents()
    assert sorted(r.number for r in rows) == list(range(1, 11))
    assert len({r.channel_id for r in rows}) == 10 and all(r.room_ready_at for r in rows)
    assert len(warroom.sim.calls_to("conversations.create")) == 10


def test_an_unknown_subcommand_suggests_the_closest(warroom):
    response = warroom.command("decalre sev2 oops")
    assert response.json()["text"].startswith("`decalre` is not an /incident subcommand.")
    assert "Did you mean `/incident declare`?" in response.json()["text"]
    assert warroom.slack_calls() == [] and incidents() == []


# The /incident command list of DESIGN.md (§1); help must mention every one.
DESIGN_SUBCOMMANDS = (
    *("help", "declare", "list", "drill", "ic", "role", "sev", "status", "note", "update", "runbooks"),
    *("page", "oncall", "followup", "timeline", "resolve", "close", "postmortem"),
)


def test_help_lists_subcommands_with_examples(warroom):
    for text in ("", "help", "  HELP "):
        body = warroom.command(text).json()
        sections = [block["text"]["text"] for block in body["blocks"]]
        help_text = "\n".join(sections)
        assert "/incident declare [sev1-4] [title]" in help_text
        assert "/incident declare sev2 Checkout returns 500s" in help_text
        assert "/incident close" in help_text and "/incident followup" in help_text
    assert incidents() == []


def test_help_is_in_sections_by_topic_well_inside_slacks_limit_and_names_every_subcommand(warroom):
    body = warroom.command("help").json()
    sections = [block["text"]["text"] for block in body["blocks"]]
    assert [section.split("\n")[0] for section in sections[1:]] == [
        "*Start*",
        "*Run it: in its war room, or name it first (`/incident INC-4 sev 2`)*",
        "*Runbooks and fixes*",
        "*Paging and alerts*",
        "*Afterwards*",
    ]
    assert all(len(section) <= 2500 for section in sections)  # Slack's limit is 3,000
    help_text = "\n".join(sections)
    missing = [name for name in DESIGN_SUBCOMMANDS if f"`/incident {name}" not in help_text]
    assert missing == []


def test_bad_declarations_are_answered_and_change_nothing(warroom):
    answers = {
        "declare sev9 Checkout down": "`sev9` is not a severity",
        "declare " + "x" * 300: "keep it to 120",
        "declare Checkout\x1bdown": "control characters",
        "declare " + "y" * 5000: "keep it under 4000",
    }
    for text, expected in answers.items():
        assert expected in warroom.command(text).json()["text"]
    assert warroom.slack_calls() == [] and incidents() == []


def test_unicode_title_keeps_its_words_and_gets_an_ascii_channel(warroom):
    warroom.command("declare sev2 Zahlungsdienst läuft nicht 🔥")
    warroom.settle()
    [incident] = incidents()
    assert incident.title == "Zahlungsdienst läuft nicht 🔥"
    assert incident.channel_name == "inc-1-zahlungsdienst-lauft-nicht"
