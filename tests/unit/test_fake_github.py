"""The GitHub fake over real HTTP on loopback: it files, lists, pages, reads and updates issues as
GitHub's REST API does, refuses what GitHub refuses in GitHub's words, fails on demand, and signs
the `issues` deliveries it sends when a person closes or reopens an issue."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.simulator.github import FACTS, FakeGitHub, sign

REPO = "acme/incidents"
ISSUES = f"/repos/{REPO}/issues"
SECRET = "It is a webhook secret"
CREATE_DOC = "https://docs.github.com/rest/issues/issues#create-an-issue"


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    fake = FakeGitHub()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def api(github: FakeGitHub) -> Iterator[httpx.Client]:
    """A client set up as Warroom's adapter sets one up, with httpx's own User-Agent."""
    headers = {
        "Authorization": f"Bearer {github.token}",
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    with httpx.Client(base_url=github.base_url, headers=headers) as client:
        yield client


def file(api: httpx.Client, title: str | int = "INC-7: add a retry budget", **fields: Any) -> dict[str, Any]:
    response = api.post(ISSUES, json={"title": title, **fields})
    assert response.status_code == 201, response.text
    return dict(response.json())


def test_an_issue_is_filed_with_the_fields_github_returns(github, api):
    response = api.post(
        ISSUES,
        json={
            "title": "INC-7: add a retry budget to checkout",
            "body": "From the INC-7 postmortem.\n\n<!-- warroom:followup:42 -->",
            "labels": ["warroom", {"name": "bug"}],
            "assignees": ["Alice-GH"],
        },
    )
    assert response.status_code == 201
    issue = response.json()
    api_url = f"{github.base_url}/repos/{REPO}/issues/1"
    assert response.headers["location"] == api_url
    assert issue["number"] == 1 and issue["state"] == "open" and issue["state_reason"] is None
    assert issue["title"] == "INC-7: add a retry budget to checkout"
    assert issue["body"].endswith("<!-- warroom:followup:42 -->")
    assert issue["html_url"] == f"{github.base_url}/web/{REPO}/issues/1"
    assert issue["url"] == api_url and issue["repository_url"] == f"{github.base_url}/repos/{REPO}"
    assert issue["labels_url"] == api_url + "/labels{/name}"
    created, bug = issue["labels"]
    assert created | {"id": 0, "node_id": ""} == {
        "id": 0,
        "node_id": "",
        "url": f"{github.base_url}/repos/{REPO}/labels/warroom",
        "name": "warroom",
        "description": None,
        "color": "ededed",  # a label the repository lacked, made grey as GitHub makes it
        "default": False,
    }
    assert (bug["name"], bug["color"], bug["default"]) == ("bug", "d73a4a", True)
    assert [a["login"] for a in issue["assignees"]] == ["alice-gh"] and issue["assignee"][
        "login"
    ] == "alice-gh"
    assert issue["assignee"]["type"] == "User"
    assert (issue["user"]["login"], issue["user"]["type"]) == ("warroom-bot", "Bot")
    assert issue["comments"] == 0 and issue["locked"] is False and issue["closed_at"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", issue["created_at"])
    assert issue["updated_at"] == issue["created_at"]
    assert issue["author_association"] == "COLLABORATOR" and isinstance(issue["id"], int)
    assert github.issues(REPO) == [issue]


def test_a_repeated_post_files_a_second_issue_because_github_has_no_idempotency(github, api):
    first = file(api, "INC-7: add a retry budget")
    again = file(api, "INC-7: add a retry budget")
    assert (first["number"], again["number"]) == (1, 2) and first["id"] != again["id"]
    assert [i["title"] for i in github.issues(REPO)] == ["INC-7: add a retry budget"] * 2


def test_an_integer_title_becomes_text_and_fields_github_does_not_define_are_ignored(api):
    issue = file(api, 42, priority="p1", incident="INC-7")
    assert issue["title"] == "42" and "priority" not in issue and "incident" not in issue


def test_the_token_owner_reads_patches_closes_and_reopens_an_issue(github, api):
    filed = file(api, labels=["warroom"], assignees=["bob-gh"])
    assert api.get(f"{ISSUES}/1").json() == filed
    closed = api.patch(f"{ISSUES}/1", json={"state": "closed", "state_reason": "not_planned"})
    assert closed.status_code == 200
    body = closed.json()
    assert (body["state"], body["state_reason"]) == ("closed", "not_planned")
    assert body["closed_at"] is not None and body["closed_by"]["login"] == "warroom-bot"
    reopened = api.patch(f"{ISSUES}/1", json={"state": "open", "title": "INC-7: retry budget, v2"}).json()
    assert (reopened["state"], reopened["state_reason"], reopened["closed_at"]) == ("open", "reopened", None)
    assert reopened["title"] == "INC-7: retry budget, v2"
    changed = api.patch(f"{ISSUES}/1", json={"labels": ["bug"], "assignees": [], "body": "Edited"}).json()
    assert [label["name"] for label in changed["labels"]] == ["bug"]
    assert (changed["assignees"], changed["assignee"], changed["body"]) == ([], None, "Edited")
    ignored = api.patch(f"{ISSUES}/1", json={"state_reason": "completed"}).json()
    assert ignored["state"] == "open" and ignored["state_reason"] == "reopened"  # only with a state change
    assert api.patch(f"{ISSUES}/1", json={"state": "done"}).json()["errors"] == [
        {"value": "done", "resource": "Issue", "field": "state", "code": "invalid"}
    ]
    assert github.issues(REPO)[0]["title"] == "INC-7: retry budget, v2"


def test_issues_are_listed_newest_first_open_by_default_and_filtered_like_github(github, api):
    file(api, "one", labels=["warroom", "sev1"], assignees=["alice-gh"])
    file(api, "two", labels=["warroom"])
    file(api, "three", labels=["Warroom", "SEV1"])
    api.patch(f"{ISSUES}/2", json={"state": "closed"})

    def titles(**params: Any) -> list[str]:
        response = api.get(ISSUES, params=params)
        assert response.status_code == 200, response.text
        return [issue["title"] for issue in response.json()]

    assert titles() == ["three", "one"]
    assert titles(state="closed") == ["two"]
    assert titles(state="all") == ["three", "two", "one"]
    assert titles(state="all", direction="asc") == ["one", "two", "three"]
    assert titles(state="all", sort="updated") == ["two", "three", "one"]
    assert titles(state="all", labels="warroom,sev1") == ["three", "one"]  # every label, any case
    assert titles(state="all", creator="warroom-bot") == ["three", "two", "one"]
    assert titles(state="all", creator="alice-gh") == []
    assert titles(assignee="alice-gh") == ["one"]
    assert titles(state="all", assignee="none") == ["three", "two"]
    assert titles(state="all", since=github.issues(REPO)[0]["created_at"]) == ["three", "two", "one"]
    assert titles(state="all", since="2999-01-01T00:00:00Z") == []
    assert api.get(ISSUES, params={"state": "any"}).json()["errors"] == [
        {"value": "any", "resource": "Issue", "field": "state", "code": "invalid"}
    ]


def test_a_long_list_is_paged_with_a_link_header_a_client_can_follow(github, api):
    for n in range(5):
        file(api, f"issue {n + 1}")
    first = api.get(ISSUES, params={"per_page": 2, "state": "all"})
    assert [i["number"] for i in first.json()] == [5, 4]
    found = re.match(rf"<{re.escape(github.base_url)}/repositories/(\d+)/issues\?", first.headers["link"])
    assert found, first.headers["link"]  # GitHub's links name the repository by id
    base = f"{github.base_url}/repositories/{found[1]}/issues?per_page=2&state=all"
    assert first.headers["link"] == f'<{base}&page=2>; rel="next", <{base}&page=3>; rel="last"'
    second = api.get(_rel(first, "next"))
    assert [i["number"] for i in second.json()] == [3, 2]
    assert second.headers["link"] == (
        f'<{base}&page=1>; rel="prev", <{base}&page=3>; rel="next", '
        f'<{base}&page=3>; rel="last", <{base}&page=1>; rel="first"'
    )
    last = api.get(_rel(second, "last"))
    assert [i["number"] for i in last.json()] == [1]
    assert last.headers["link"] == f'<{base}&page=2>; rel="prev", <{base}&page=1>; rel="first"'
    assert "link" not in api.get(ISSUES).headers  # all on one page: 30 a page by default
    many = api.get(ISSUES, params={"per_page": 500})
    assert many.status_code == 200 and len(many.json()) == 5  # served as the maximum, 100


def test_a_wrong_token_is_refused_in_githubs_words_and_either_scheme_passes(github, api):
    wrong = api.get(ISSUES, headers={"Authorization": "Bearer github_pat_not_this_one"})
    assert wrong.status_code == 401
    assert wrong.json() == {
        "message": "Bad credentials",
        "documentation_url": "https://docs.github.com/rest",
        "status": "401",
    }
    assert api.get(ISSUES, headers={"Authorization": f"token {github.token}"}).status_code == 200
    assert api.get(ISSUES, headers={"Authorization": f"Basic {github.token}"}).status_code == 401
    assert [r.authorized for r in github.requests] == [False, True, False]


def test_without_a_token_a_write_needs_authentication_and_a_read_finds_nothing(github):
    with httpx.Client(base_url=github.base_url) as anonymous:
        write = anonymous.post(ISSUES, json={"title": "anonymous"})
        read = anonymous.get(ISSUES)
    assert (write.status_code, write.json()["message"]) == (401, "Requires authentication")
    assert (read.status_code, read.json()["message"]) == (404, "Not Found")  # a private repository
    assert github.issues(REPO) == []


def test_a_request_without_a_user_agent_is_forbidden_and_httpxs_own_passes(github, api):
    assert api.headers["user-agent"].startswith("python-httpx/")
    assert api.get(ISSUES).status_code == 200
    empty = api.get(ISSUES, headers={"User-Agent": ""})
    assert empty.status_code == 403 and empty.headers["content-type"].startswith("text/html")
    assert empty.text.startswith("Request forbidden by administrative rules.")
    del api.headers["User-Agent"]
    absent = api.post(ISSUES, json={"title": "no agent"})
    assert "user-agent" not in github.requests[-1].headers
    assert absent.status_code == 403 and github.issues(REPO) == []


def test_only_an_api_version_github_lists_is_accepted(api):
    assert api.get(ISSUES, headers={"X-GitHub-Api-Version": "2026-03-10"}).status_code == 200
    refused = api.get(ISSUES, headers={"X-GitHub-Api-Version": "v3"})
    assert refused.status_code == 400
    assert refused.json()["message"] == (
        'The version you specified in the "X-GitHub-API-Version" request header, "v3", is not a '
        'supported version. The following versions are currently supported: "2026-03-10" (most recent), '
        '"2022-11-28".'
    )
    del api.headers["X-GitHub-Api-Version"]
    assert api.get(ISSUES).status_code == 200  # the default, 2022-11-28


def test_an_unknown_repository_issue_or_path_is_not_found(api):
    missing_repo = api.post("/repos/acme/nowhere/issues", json={"title": "lost"})
    assert missing_repo.status_code == 404
    assert missing_repo.json() == {"message": "Not Found", "documentation_url": CREATE_DOC, "status": "404"}
    assert api.get(f"{ISSUES}/99").status_code == 404
    assert api.get(f"{ISSUES}/").status_code == 404  # a trailing slash, as GitHub answers it
    assert api.delete(f"{ISSUES}/1").status_code == 404  # a method the endpoint lacks


def test_a_missing_title_fails_validation(github, api):
    for body in ({"body": "no title"}, {"title": None}, {"title": ""}):
        refused = api.post(ISSUES, json=body)
        assert refused.status_code == 422
        assert refused.json() == {
            "message": "Validation Failed",
            "errors": [{"resource": "Issue", "code": "missing_field", "field": "title"}],
            "documentation_url": CREATE_DOC,
            "status": "422",
        }
    wrong_type = api.post(ISSUES, json={"title": ["a", "list"]})
    assert wrong_type.status_code == 422
    assert wrong_type.json()["message"] == (
        'Invalid request.\n\nFor \'properties/title\', ["a", "list"] is not a string or integer.'
    )
    assert github.issues(REPO) == []


def test_an_assignee_who_is_not_a_collaborator_fails_validation(github, api):
    refused = api.post(ISSUES, json={"title": "INC-7", "assignees": ["alice-gh", "mallory", "eve"]})
    assert refused.status_code == 422
    assert refused.json()["errors"] == [
        {"value": "mallory", "resource": "Issue", "field": "assignees", "code": "invalid"},
        {"value": "eve", "resource": "Issue", "field": "assignees", "code": "invalid"},
    ]
    milestone = api.post(ISSUES, json={"title": "INC-7", "milestone": 3})
    assert milestone.json()["errors"] == [
        {"value": 3, "resource": "Issue", "field": "milestone", "code": "invalid"}
    ]
    assert github.issues(REPO) == []


def test_a_body_that_is_not_a_json_object_is_refused(github, api):
    headers = {"Content-Type": "application/json"}
    broken = api.post(ISSUES, content=b'{"title": "INC-7",', headers=headers)
    assert (broken.status_code, broken.json()["message"]) == (400, "Problems parsing JSON")
    listed = api.post(ISSUES, json=["INC-7"])
    assert (listed.status_code, listed.json()["message"]) == (400, "Body should be a JSON object")
    empty = api.post(ISSUES)
    assert empty.status_code == 422
    assert empty.json()["message"] == "Invalid request.\n\nFor 'links/0/schema', nil is not an object."
    assert github.issues(REPO) == []


def test_fail_answers_the_next_requests_in_githubs_error_shape_then_recovers(github, api):
    github.fail(times=2)
    down = [api.post(ISSUES, json={"title": "INC-7"}) for _ in range(2)]
    assert [r.status_code for r in down] == [503, 503]
    assert down[0].json() == {
        "message": "Service Unavailable",
        "documentation_url": "https://docs.github.com/rest",
        "status": "503",
    }
    assert github.issues(REPO) == []
    assert file(api)["number"] == 1
    github.fail(status=502)
    assert api.get(ISSUES).status_code == 502


def test_a_person_closing_on_github_sends_a_signed_issues_delivery(github, api, receiver):
    file(api, labels=["warroom"])
    github.deliver_to(receiver.url, SECRET)
    assert github.close(REPO, 1, by="carol-gh", reason="not_planned") == 202
    ((headers, body),) = receiver.got
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature-256"], expected)
    assert headers["x-github-event"] == "issues" and headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("GitHub-Hookshot/")
    assert re.fullmatch(r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", headers["x-github-delivery"])
    assert headers["x-github-hook-id"].isdigit()
    assert headers["x-github-hook-installation-target-type"] == "repository"
    event = json.loads(body)
    assert event["action"] == "closed"
    assert headers["x-github-hook-installation-target-id"] == str(event["repository"]["id"])
    issue = event["issue"]
    assert (issue["number"], issue["state"], issue["state_reason"]) == (1, "closed", "not_planned")
    assert issue["closed_by"]["login"] == "carol-gh" and issue["closed_at"] is not None
    assert issue == github.issues(REPO)[0] == api.get(f"{ISSUES}/1").json()
    assert event["repository"]["full_name"] == REPO and event["repository"]["name"] == "incidents"
    assert event["repository"]["html_url"] == f"{github.web_url}/{REPO}"
    assert event["sender"] | {"id": 0, "node_id": ""} == {
        "login": "carol-gh",
        "id": 0,
        "node_id": "",
        "url": f"{github.base_url}/users/carol-gh",
        "html_url": f"{github.web_url}/carol-gh",
        "type": "User",
        "site_admin": False,
    }
    receiver.status = 500
    assert github.reopen(REPO, 1, by="alice-gh") == 500
    reopened = json.loads(receiver.got[-1][1])
    assert reopened["action"] == "reopened" and reopened["issue"]["state_reason"] == "reopened"
    assert [(d.action, d.status, d.redelivery) for d in github.deliveries] == [
        ("closed", 202, False),
        ("reopened", 500, False),
    ]


def test_a_redelivery_keeps_its_delivery_id_body_and_signature(github, api, receiver):
    file(api)
    github.deliver_to(receiver.url, SECRET)
    receiver.status = 503
    assert github.close(REPO, 1) == 503
    receiver.status = 200
    first = github.deliveries[0]
    assert github.redeliver(first.id) == 200
    (before, sent), (after, resent) = receiver.got
    assert after["x-github-delivery"] == before["x-github-delivery"] == first.id
    assert resent == sent and after["x-hub-signature-256"] == before["x-hub-signature-256"]
    assert [(d.id, d.status, d.redelivery) for d in github.deliveries] == [
        (first.id, 503, False),
        (first.id, 200, True),
    ]


def test_close_without_a_webhook_changes_the_issue_and_sends_nothing(github, api):
    file(api)
    assert github.close(REPO, 1) is None
    assert github.issues(REPO)[0]["state_reason"] == "completed" and github.deliveries == []
    with pytest.raises(ValueError):
        github.close(REPO, 1)  # closed already
    with pytest.raises(ValueError):
        github.reopen(REPO, 1, by="mallory")  # no access to the repository


def test_an_unreachable_receiver_is_a_delivery_with_status_0(github, api):
    file(api)
    github.deliver_to("http://127.0.0.1:9/hooks/github", SECRET)
    assert github.close(REPO, 1) == 0
    assert github.deliveries[0].status == 0


def test_the_signature_matches_githubs_published_test_vector():
    vector = FACTS["webhooks"]["signature"]["test_vector"]
    assert sign(vector["secret"], vector["payload"].encode()) == vector["x_hub_signature_256"]


def test_each_repository_numbers_its_own_issues_and_reset_starts_over(github, api):
    github.add_repository("acme/payments", collaborators=["dave-gh"])
    file(api)
    other = api.post("/repos/acme/payments/issues", json={"title": "INC-8", "assignees": ["dave-gh"]})
    assert other.status_code == 201 and other.json()["number"] == 1
    assert api.post(ISSUES, json={"title": "INC-8", "assignees": ["dave-gh"]}).status_code == 422
    assert api.get("/repos/ACME/Incidents/issues/1").status_code == 200  # names are not case sensitive
    with pytest.raises(ValueError):
        github.add_repository(REPO)
    post = next(r for r in github.requests if r.method == "POST")
    assert (post.path, post.json, post.authorized) == (ISSUES, {"title": "INC-7: add a retry budget"}, True)
    assert post.headers["x-github-api-version"] == "2022-11-28"
    github.reset()
    assert github.issues(REPO) == [] and github.requests == []
    assert api.get("/repos/acme/payments/issues").status_code == 404
    assert file(api)["number"] == 1


def test_the_token_looks_like_a_fine_grained_personal_access_token(github):
    assert re.fullmatch(r"github_pat_11[A-Z0-9]{20}_[A-Za-z0-9]{59}", github.token)
    other = FakeGitHub()
    assert other.token != github.token
    other.stop()


def _rel(response: httpx.Response, rel: str) -> str:
    links = {name: url for url, name in re.findall(r'<([^>]+)>; rel="(\w+)"', response.headers["link"])}
    return links[rel]
