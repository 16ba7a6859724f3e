"""Follow-up parsing, the follow-up list within Slack's limits, and when a closed room is archived."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.incidents.archive import archive_due_at, archive_lead, notice_due_at
from bot.incidents.errors import InvalidInput
from bot.incidents.followups import (
    FollowUpDraft,
    FollowUpNotFound,
    earliest_today,
    followup_id,
    parse_due,
    parse_followup,
)
from bot.views.followups import followup_list, read_followup_form, shown
from storage.models import FollowUp, Incident

TODAY = date(2026, 11, 24)
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "draft"),
    [
        ("Add an alert", FollowUpDraft("Add an alert")),
        ("  <@U0BOB|bob>  Add an alert  ", FollowUpDraft("Add an alert", "U0BOB")),
        ("<@U0BOB> Add an alert due 2026-12-01", FollowUpDraft("Add an alert", "U0BOB", date(2026, 12, 1))),
        ("Rotate keys DUE 2026-11-24", FollowUpDraft("Rotate keys", None, TODAY)),
        ("Line one\nline two due 2026-11-30", FollowUpDraft("Line one\nline two", None, date(2026, 11, 30))),
        ("Failover was slow due to DNS", FollowUpDraft("Failover was slow due to DNS")),
        ("Ask <@U0CAROL> to review", FollowUpDraft("Ask <@U0CAROL> to review")),
        ("Add\u200b an \u202ealert\u202c", FollowUpDraft("Add an alert")),
    ],
)
def test_a_followup_is_read_as_owner_text_and_due_date(text, draft):
    assert parse_followup(text, TODAY) == draft


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<@U0BOB|bob>", "Write what should be done"),
        ("due 2026-12-01", "Write what should be done"),
        ("Fix it due 2026-11-23", "2026-11-23 is in the past: give today or a later date as YYYY-MM-DD"),
        (
            "Fix it due tomorrow",
            "`tomorrow` is not a date: write the due date as YYYY-MM-DD, e.g. `due 2026-12-01`",
        ),
        ("Fix it due 2026-02-30", "is not a date"),
        ("Fix it due 1/12/2026", "is not a date"),
        ("<@bob> Fix it", "Name the owner with @"),
        ("x" * 1001, "keep it to 1000"),
    ],
)
def test_a_followup_that_cannot_be_read_says_what_to_type(text, problem):
    with pytest.raises(InvalidInput) as raised:
        parse_followup(text, TODAY)
    assert problem in raised.value.user_message


@pytest.mark.parametrize("value", ["", None, "abc", "-1", "1" * 40])
def test_a_button_value_that_is_not_an_id_names_no_followup(value):
    with pytest.raises(FollowUpNotFound):
        followup_id(value)


def test_user_text_is_escaped_and_cut_without_splitting_an_entity():
    assert shown("<!channel> & co") == "&lt;!channel&gt; &amp; co"
    cut = shown("a" * 8 + "&" * 10, limit=12)
    assert cut == "aaaaaaaa…" and len(cut) <= 12


def followup(n: int, *, done: bool = False, due: date | None = None) -> FollowUp:
    return FollowUp(
        id=n,
        incident_id=1,
        request_key=f"k{n}",
        text=f"item {n}",
        due_on=due,
        created_by="U0ALICE",
        created_at=T0,
        done_at=T0 if done else None,
        done_by="U0BOB" if done else None,
    )


def incident(**fields) -> Incident:
    values = {
        "id": 1,
        "number": 1,
        "title": "Checkout returns 500s",
        "severity": 2,
        "commander_id": "U0ALICE",
        "declared_by": "U0ALICE",
        "declared_at": T0,
        "channel_id": "C0ROOM",
    }
    return Incident(**(values | fields))


def test_the_list_flags_overdue_items_and_shows_who_did_the_done_ones():
    items = [followup(1, due=TODAY - timedelta(days=1)), followup(2, due=TODAY), followup(3, done=True)]
    text, blocks = followup_list(incident(), items, TODAY)
    assert text == "Follow-ups of INC-1: 2 open, 1 done"
    assert ":warning: *overdue*" in blocks[1]["text"]["text"]
    assert "due 2026-11-24 (today)" in blocks[2]["text"]["text"]
    assert [b.get("accessory", {}).get("value") for b in blocks[1:]] == ["1", "2", None]
    assert "Done by <@U0BOB>" in blocks[3]["text"]["text"]


def test_a_long_list_stays_within_fifty_blocks_and_says_how_many_are_left():
    items = [followup(n) for n in range(1, 61)] + [followup(n, done=True) for n in range(61, 66)]
    _, blocks = followup_list(incident(), items, TODAY)
    assert len(blocks) == 50
    assert blocks[-1]["elements"][0]["text"] == "… and 17 more (12 open)"


def test_the_form_reports_each_bad_field():
    def view(text: str | None, day: str | None) -> dict:
        values = {
            "text": {"text": {"type": "plain_text_input", "value": text}},
            "owner": {"owner": {"type": "users_select", "selected_user": "U0BOB"}},
            "due": {"due": {"type": "datepicker", "selected_date": day}},
        }
        return {"state": {"values": values}}

    assert read_followup_form(view("  ", "2026-11-01"), TODAY)[1].keys() == {"text", "due"}
    draft, problems = read_followup_form(view(" Add an alert ", "2026-11-24"), TODAY)
    assert problems == {} and draft == FollowUpDraft("Add an alert", "U0BOB", TODAY)
    assert read_followup_form(view("Add an alert", None), TODAY)[0] == FollowUpDraft("Add an alert", "U0BOB")


def test_the_notice_comes_a_day_ahead_or_half_the_delay_when_that_is_shorter():
    assert archive_lead(timedelta(days=7)) == timedelta(hours=24)
    assert archive_lead(timedelta(hours=12)) == timedelta(hours=6)
    closed = incident(status="closed", closed_at=T0)
    assert notice_due_at(closed, timedelta(days=7)) == T0 + timedelta(days=6)
    assert archive_due_at(closed, timedelta(days=7)) is None  # not before the notice


def test_a_late_notice_puts_the_archive_off_by_the_lead():
    noticed = incident(status="closed", closed_at=T0, archive_noticed_at=T0 + timedelta(days=30))
    assert notice_due_at(noticed, timedelta(days=7)) is None
    assert archive_due_at(noticed, timedelta(days=7)) == T0 + timedelta(days=31)


@pytest.mark.parametrize(
    "fields",
    [
        {"status": "resolved", "closed_at": None},
        {"status": "closed", "closed_at": T0, "channel_id": None},
        {"status": "closed", "closed_at": T0, "archived_at": T0 + timedelta(days=7)},
    ],
)
def test_open_roomless_or_archived_incidents_are_never_archived(fields):
    assert notice_due_at(incident(**fields), timedelta(days=7)) is None
    assert archive_due_at(incident(**fields, archive_noticed_at=T0), timedelta(days=7)) is None


def test_someone_west_of_utc_may_pick_their_own_today():
    early_utc = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # still 2026-11-24 in New York
    today = earliest_today(early_utc)
    assert parse_due("2026-11-24", today) == date(2026, 11, 24)
    with pytest.raises(InvalidInput, match="is in the past"):
        parse_due("2026-11-23", today)
