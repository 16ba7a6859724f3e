"""Follow-ups as Jira Cloud issues, end to end through Slack against the strict fake Jira: the
issue's fields (ADF description with a link back, labels, due date, the owner found by e-mail),
filed once across a crash, Done in Jira → done in Warroom and back; and the tracker chosen by the
incident's service when GitHub and Jira are both set up."""

from __future__ import annotations

import pytest

from bot import clock
from bot.jobs import faults
from bot.simulator.github import FakeGitHub
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.jira import FakeJira
from storage.models import Alert
from storage.session import in_session
from tests.rooms import open_room
from tests.tickets import add_followup, filed_lines, followup, press_file, ticket
from tests.waiting import take_over

SECRET, BOB = "whsec-jira-test", "5b10a2844c20165700ede21g"


@pytest.fixture
def jira():
    fake = FakeJira()
    fake.start()
    yield fake
    fake.stop()


def jira_settings(simulator, db, jira: FakeJira, **more) -> dict:
    return local_settings(
        simulator,
        db,
        jira_base_url=jira.base_url,
        jira_email=jira.email,
        jira_api_token=jira.api_token,
        jira_webhook_secret=SECRET,
        warroom_jira_project="OPS",
        warroom_base_url="https://warroom.example.com",
        **more,
    )


@pytest.fixture
def warroom(simulator, db, jira):
    app = LocalWarroom(simulator, jira_settings(simulator, db, jira))
    jira.deliver_to(f"{app.server.url}/tickets/jira", SECRET)
    yield app
    app.stop()


def test_a_followup_becomes_a_jira_issue_with_its_fields(warroom, jira):
    room = open_room(warroom)
    assert press_file(warroom, room, add_followup(warroom, room)) == "File a Jira issue"
    warroom.settle()
    [issue] = jira.issues("OPS")
    fields = issue["fields"]
    assert fields["summary"] == "INC-1: Alert on queue depth" and fields["issuetype"]["name"] == "Task"
    assert fields["labels"] == ["incident-follow-up", ticket().marker]
    assert fields["duedate"] == "2030-01-31" and fields["assignee"]["accountId"] == BOB  # bob@example.com
    description = fields["description"]
    assert description["type"] == "doc" and description["version"] == 1
    link = [
        node for paragraph in description["content"] for node in paragraph["content"] if node.get("marks")
    ]
    assert link == [
        {
            "type": "text",
            "text": "Open the incident",
            "marks": [{"type": "link", "attrs": {"href": "https://warroom.example.com/incidents/INC-1"}}],
        }
    ]
    url = f"{jira.base_url}/browse/OPS-1"
    assert (ticket().ref, ticket().url) == ("OPS-1", url)
    assert filed_lines(warroom, room) == [f":ticket: Follow-up filed as <{url}|OPS-1>: Alert on queue depth"]


def test_a_crash_after_filing_leaves_one_jira_issue(warroom, jira, clock):
    room = open_room(warroom)
    faults.arm("ticket.filed")
    press_file(warroom, room, add_followup(warroom, room))
    take_over(warroom, clock)
    assert len(jira.issues("OPS")) == 1 and ticket().ref == "OPS-1"
    searched = [r for r in jira.requests if r.path == "/rest/api/3/search/jql"]
    assert searched and f'labels = "{ticket().marker}"' in searched[0].json["jql"]


def test_done_in_jira_is_done_in_warroom_and_back(warroom, jira):
    room = open_room(warroom)
    press_file(warroom, room, add_followup(warroom, room))
    warroom.settle()
    assert jira.transition("OPS-1", "In Progress", BOB) == 200  # not done yet: nothing changes
    assert followup().done_at is None
    assert jira.transition("OPS-1", "Done", BOB) == 202
    warroom.settle()
    assert followup().done_at is not None and ticket().status == "closed"
    [said] = [
        m["text"] for m in warroom.sim.channel(room)["messages"] if "Follow-up done" in m.get("text", "")
    ]
    assert "was closed by Bob Example in Jira" in said
    assert jira.redeliver(jira.deliveries[-1].id) == 200
    assert jira.transition("OPS-1", "To Do", BOB) == 202
    warroom.settle()
    assert followup().done_at is None and ticket().status == "open"


def test_the_incidents_service_picks_the_tracker(simulator, db, jira):
    github = FakeGitHub()
    github.start()
    settings = jira_settings(
        simulator,
        db,
        jira,
        github_token=github.token,
        github_api_url=github.base_url,
        warroom_github_repository="acme/incidents",
        warroom_tickets_default="github",
        warroom_tickets_by_service="checkout api=jira",
    )
    app = LocalWarroom(simulator, settings)
    try:
        room = open_room(app)

        def link_alert(session) -> None:  # as an alert of Checkout API would have been linked
            at = clock.now()
            alert = Alert(
                dedup_key="k1", service_name="Checkout API", incident_id=1, first_seen_at=at, last_seen_at=at
            )
            session.add(alert)

        in_session(link_alert)
        assert press_file(app, room, add_followup(app, room)) == "File a Jira issue"
        app.settle()
        assert len(jira.issues("OPS")) == 1 and github.issues("acme/incidents") == []
    finally:
        app.stop()
        github.stop()
