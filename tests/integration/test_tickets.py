"""Follow-ups as GitHub issues, end to end through Slack against the strict fake GitHub: filed
once (double click, a crash between the call and its record), closed in GitHub → done in
Warroom and reopened → open again (signature checked, redeliveries and stale deliveries change
nothing), GitHub down → filed when it answers, the asker told once; the ticket in the
postmortem draft."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from bot.jobs import faults
from bot.postmortem.draft import build_draft
from bot.postmortem.render import draft_markdown
from bot.simulator.github import FakeGitHub, sign
from bot.simulator.harness import LocalWarroom, local_settings
from storage.session import in_session
from tests.rooms import open_room
from tests.tickets import add_followup, filed_lines, followup, press_file, ticket, told
from tests.waiting import take_over

REPO, SECRET = "acme/incidents", "whsec-github-test"


@pytest.fixture
def github():
    fake = FakeGitHub()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def warroom(simulator, db, github):
    settings = local_settings(
        simulator,
        db,
        github_token=github.token,
        github_api_url=github.base_url,
        github_webhook_secret=SECRET,
        warroom_github_repository=REPO,
        warroom_github_users="U0BOB=bob-gh",
    )
    app = LocalWarroom(simulator, settings)
    github.deliver_to(f"{app.server.url}/tickets/github", SECRET)
    yield app
    app.stop()


@pytest.fixture
def room(warroom):
    return open_room(warroom)


def test_a_followup_becomes_one_issue_however_often_the_button_is_pressed(warroom, room, github):
    line = add_followup(warroom, room)
    assert press_file(warroom, room, line) == "File a GitHub issue"
    press_file(warroom, room, line, user="U0BOB")
    warroom.settle()
    [issue] = github.issues(REPO)
    assert issue["title"] == "INC-1: Alert on queue depth"
    assert "Follow-up from INC-1: Checkout returns 500s (SEV2)." in issue["body"]
    assert "Due 2030-01-31." in issue["body"] and ticket().marker in issue["body"]
    assert [label["name"] for label in issue["labels"]] == ["incident-follow-up"]
    assert [a["login"] for a in issue["assignees"]] == ["bob-gh"]  # the owner, mapped to GitHub
    posts = [r for r in github.requests if r.method == "POST"]
    assert len(posts) == 1 and posts[0].authorized
    assert posts[0].headers["x-github-api-version"] == "2022-11-28"
    assert filed_lines(warroom, room) == [
        f":ticket: Follow-up filed as <{issue['html_url']}|{REPO}#1>: Alert on queue depth"
    ]
    assert (ticket().status, ticket().ref, ticket().url) == ("open", "1", issue["html_url"])
    assert any("already" in text for text in told(warroom))


@pytest.mark.parametrize("point", ["ticket.filed", "ticket.recorded"])
def test_a_crash_between_filing_and_recording_leaves_one_issue(warroom, room, github, clock, point):
    line = add_followup(warroom, room)
    faults.arm(point)
    press_file(warroom, room, line)
    take_over(warroom, clock)
    assert len(github.issues(REPO)) == 1
    assert ticket().ref == "1" and len(filed_lines(warroom, room)) == 1


def test_github_down_keeps_the_followup_and_files_it_when_github_answers(warroom, room, github, clock):
    line = add_followup(warroom, room)
    github.fail(times=2, status=503)
    press_file(warroom, room, line)
    warroom.settle()
    assert github.issues(REPO) == [] and ticket().status == "requested" and ticket().attempts == 1
    [down] = [text for text in told(warroom) if "not answering" in text]
    assert "its issue is filed as soon as GitHub answers" in down
    for minutes in (3, 5):  # the next tries, spaced out
        clock.at += timedelta(minutes=minutes)
        warroom.deps.jobs.wake()
        warroom.settle()
    assert len(github.issues(REPO)) == 1 and ticket().status == "open"
    assert len([text for text in told(warroom) if "not answering" in text]) == 1  # told once


def test_a_refused_issue_is_told_to_the_asker_and_not_retried(simulator, db, github):
    settings = local_settings(
        simulator,
        db,
        github_token="github_pat_wrong",
        github_api_url=github.base_url,
        warroom_github_repository=REPO,
    )
    warroom = LocalWarroom(simulator, settings)
    try:
        room = open_room(warroom)
        press_file(warroom, room, add_followup(warroom, room))
        warroom.settle()
        assert github.issues(REPO) == [] and ticket().status == "refused"
        assert any(
            "GitHub refused the issue for this follow-up: GitHub answered 401: Bad credentials" in t
            for t in told(warroom)
        )
        assert "github_pat_wrong" not in " ".join(told(warroom))
    finally:
        warroom.stop()


def test_closed_in_github_is_done_in_warroom_and_reopened_is_open_again(warroom, room, github):
    press_file(warroom, room, add_followup(warroom, room))
    warroom.settle()
    assert github.close(REPO, 1, by="bob-gh") == 202
    warroom.settle()
    done = followup()
    assert done.done_at is not None and done.done_by == "U0BOB" and ticket().status == "closed"
    [said] = [
        m["text"] for m in warroom.sim.channel(room)["messages"] if "Follow-up done" in m.get("text", "")
    ]
    assert said.startswith(
        f":white_check_mark: Follow-up done: <{ticket().url}|{REPO}#1> was closed by bob-gh"
    )
    assert github.redeliver(github.deliveries[-1].id) == 200  # the same delivery again: nothing
    warroom.settle()
    assert github.reopen(REPO, 1, by="alice-gh") == 202
    warroom.settle()
    assert followup().done_at is None and ticket().status == "open"
    assert any("Follow-up open again" in m.get("text", "") for m in warroom.sim.channel(room)["messages"])
    draft = in_session(lambda s: draft_markdown(build_draft(s, 1, now=followup().created_at)))
    assert f"[issue]({ticket().url}) open" in draft


def test_a_webhook_without_the_right_signature_changes_nothing(warroom, room, github):
    press_file(warroom, room, add_followup(warroom, room))
    warroom.settle()
    issue = b'{"number": 1, "state": "closed", "updated_at": "2030-01-01T00:00:00Z"}'
    body = b'{"action": "closed", "issue": ' + issue + b"}"
    url = f"{warroom.server.url}/tickets/github"
    headers = {"x-github-event": "issues", "x-github-delivery": "d-1", "content-type": "application/json"}
    assert (
        httpx.post(
            url, content=body, headers=headers | {"x-hub-signature-256": sign("wrong", body)}
        ).status_code
        == 401
    )
    assert httpx.post(url, content=body, headers=headers).status_code == 401
    assert followup().done_at is None
    ping = {"x-github-event": "ping", "x-hub-signature-256": sign(SECRET, b"{}")}
    assert httpx.post(url, content=b"{}", headers=ping).status_code == 200


def test_the_followup_form_files_the_issue_when_its_box_is_ticked(warroom, room, github):
    warroom.command("followup", channel=room)
    warroom.settle()
    view = warroom.sim.calls_to("views.open")[-1].response["view"]
    [box] = [b for b in view["blocks"] if b.get("block_id") == "ticket"]
    assert box["element"]["options"][0]["text"]["text"] == "File it as a GitHub issue too"
    values = {
        "text": {"text": {"type": "plain_text_input", "value": "Add a retry budget"}},
        "owner": {"owner": {"type": "users_select", "selected_user": "U0BOB"}},
        "due": {"due": {"type": "datepicker", "selected_date": None}},
        "ticket": {"ticket": {"type": "checkboxes", "selected_options": [{"value": "ticket"}]}},
    }
    for _ in range(2):  # the same submission delivered twice
        warroom.person.view_submission(view, values)
    warroom.settle()
    [issue] = github.issues(REPO)
    assert issue["title"] == "INC-1: Add a retry budget" and [a["login"] for a in issue["assignees"]] == [
        "bob-gh"
    ]
    assert ticket().status == "open" and len(filed_lines(warroom, room)) == 1
