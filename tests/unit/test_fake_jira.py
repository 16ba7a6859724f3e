"""The Jira fake over real HTTP on loopback: it creates, reads and searches issues and finds people as
Jira Cloud's REST API v3 does, refuses what Jira refuses in Jira's words, fails on demand, and signs
the `jira:issue_updated` deliveries it sends when a person moves an issue."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from bot.simulator.jira import FakeJira, sign

ISSUE = "/rest/api/3/issue"
SEARCH = "/rest/api/3/search/jql"
USERS = "/rest/api/3/user/search"
SECRET = "It is a webhook secret"
ALICE, BOB = "5b10ac8d82e05b22cc7d4ef5", "5b10a2844c20165700ede21g"
DOC = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Add a retry budget."}]}],
}
NOT_ADF = "Operation value must be an Atlassian Document (see the Atlassian Document Format)"
JIRA_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000"


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    fake = FakeJira()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def api(jira: FakeJira) -> Iterator[httpx.Client]:
    """A client set up as Warroom's adapter sets one up: Basic email:API token, JSON."""
    auth = httpx.BasicAuth(jira.email, jira.api_token)
    with httpx.Client(base_url=jira.base_url, auth=auth, headers={"Accept": "application/json"}) as client:
        yield client


def fields(summary: str = "INC-7: add a retry budget", **more: Any) -> dict[str, Any]:
    return {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": summary, **more}


def create(api: httpx.Client, summary: str = "INC-7: add a retry budget", **more: Any) -> dict[str, Any]:
    response = api.post(ISSUE, json={"fields": fields(summary, **more)})
    assert response.status_code == 201, response.text
    return dict(response.json())


def refused(api: httpx.Client, **given: Any) -> dict[str, Any]:
    response = api.post(ISSUE, json={"fields": given})
    assert response.status_code == 400, response.text
    return dict(response.json())


def test_an_issue_is_created_with_adf_labels_due_date_and_assignee_and_read_back(jira, api):
    more = {"description": DOC, "labels": ["warroom", "incident-7"], "duedate": "2030-01-31"}
    created = create(api, assignee={"accountId": ALICE}, **more)
    assert created == {"id": created["id"], "key": "OPS-1", "self": f"{jira.base_url}{ISSUE}/{created['id']}"}
    assert created["id"].isdigit()
    issue = api.get(f"{ISSUE}/OPS-1").json()
    assert issue == api.get(f"{ISSUE}/{created['id']}").json() == jira.issues("OPS")[0]
    assert (issue["id"], issue["key"], issue["self"]) == (created["id"], "OPS-1", created["self"])
    got = issue["fields"]
    assert (got["summary"], got["description"], got["labels"]) == (
        "INC-7: add a retry budget",
        DOC,
        more["labels"],
    )
    assert got["duedate"] == "2030-01-31"
    assignee = got["assignee"]
    assert (assignee["accountId"], assignee["displayName"]) == (ALICE, "Alice Example")
    assert (assignee["emailAddress"], assignee["accountType"], assignee["active"]) == (
        "alice@example.com",
        "atlassian",
        True,
    )
    assert got["status"]["name"] == "To Do"
    assert got["status"]["statusCategory"] | {"self": ""} == {
        "self": "",
        "id": 2,
        "key": "new",
        "colorName": "blue-gray",
        "name": "To Do",
    }
    assert (got["project"]["key"], got["project"]["name"]) == ("OPS", "Operations")
    assert got["project"]["id"].isdigit() and got["issuetype"]["name"] == "Task"
    assert got["reporter"]["emailAddress"] == jira.email
    assert re.fullmatch(JIRA_TIME, got["created"]) and got["updated"] == got["created"]
    unassigned = create(api, "INC-7: second")
    assert api.get(f"{ISSUE}/{unassigned['key']}").json()["fields"]["assignee"] is None


def test_each_post_creates_another_issue_as_jira_has_no_idempotency_key(jira, api):
    keys = [create(api, "INC-7: same body")["key"] for _ in range(2)]
    assert keys == ["OPS-1", "OPS-2"]
    assert [issue["fields"]["summary"] for issue in jira.issues("OPS")] == ["INC-7: same body"] * 2
    assert api.get(f"{ISSUE}/ops-2").status_code == 200


def test_an_unknown_issue_is_not_found_in_jiras_words(api):
    missing = api.get(f"{ISSUE}/OPS-99")
    assert missing.status_code == 404
    assert missing.json() == {
        "errorMessages": ["Issue does not exist or you do not have permission to see it."],
        "errors": {},
    }


def test_people_are_found_by_email_in_any_case_or_by_the_start_of_their_name(api):
    def found(**params: str) -> list[str]:
        response = api.get(USERS, params=params)
        assert response.status_code == 200, response.text
        return [user["accountId"] for user in response.json()]

    (alice,) = api.get(USERS, params={"query": "ALICE@example.com"}).json()
    assert alice | {"self": ""} == {
        "self": "",
        "accountId": ALICE,
        "accountType": "atlassian",
        "emailAddress": "alice@example.com",
        "displayName": "Alice Example",
        "active": True,
    }
    assert found(query="bob") == [BOB] == found(query="Bob Ex")
    assert found(query="nobody@example.com") == []
    assert found(accountId=ALICE) == [ALICE]
    missing = api.get(USERS)
    assert missing.status_code == 400 and missing.json()["errorMessages"]


def test_jql_finds_a_projects_issues_by_label_newest_first_with_only_ids_by_default(jira, api):
    first = create(api, "one", labels=["incident-7"])
    create(api, "two", labels=["incident-8"])
    third = create(api, "three", labels=["warroom", "incident-7"])
    jql = 'project = OPS AND labels = "incident-7"'
    ids = api.post(SEARCH, json={"jql": jql})
    assert ids.status_code == 200, ids.text
    assert ids.json() == {"issues": [{"id": third["id"]}, {"id": first["id"]}], "isLast": True}
    wanted = api.post(
        SEARCH, json={"jql": "project = ops and LABELS = incident-7", "fields": ["summary", "status"]}
    )
    issues = wanted.json()["issues"]
    assert [(i["key"], sorted(i["fields"])) for i in issues] == [
        ("OPS-3", ["status", "summary"]),
        ("OPS-1", ["status", "summary"]),
    ]
    assert issues[0]["fields"]["status"]["statusCategory"]["key"] == "new"
    every = api.post(SEARCH, json={"jql": jql, "fields": ["*all"]}).json()["issues"][0]
    assert every == api.get(f"{ISSUE}/OPS-3").json()
    keyed = api.post(SEARCH, json={"jql": jql, "fields": ["key"]}).json()["issues"][0]
    assert keyed == {"id": third["id"], "self": third["self"], "key": "OPS-3", "fields": {}}
    assert api.post(SEARCH, json={"jql": 'project = OPS AND labels = "Incident-7"'}).json()["issues"] == []


def test_a_search_is_paged_with_next_page_tokens(api):
    made = [create(api, f"issue {n}", labels=["incident-7"])["id"] for n in range(3)]
    jql, seen, token = 'project = OPS AND labels = "incident-7"', [], None
    for _ in range(3):
        page = api.post(SEARCH, json={"jql": jql, "maxResults": 2, "nextPageToken": token}).json()
        seen += [issue["id"] for issue in page["issues"]]
        token = page.get("nextPageToken")
        if page["isLast"]:
            break
    assert seen == made[::-1] and token is None
    for stale in ({"jql": jql, "nextPageToken": "not-a-token"}, {"jql": "", "nextPageToken": "not-a-token"}):
        answer = api.post(SEARCH, json=stale)
        assert answer.status_code == 400 and answer.json()["errors"] == {}


def test_jql_other_than_warrooms_query_is_refused_as_a_jql_error(api):
    for jql in (
        "labels = incident-7",
        'project = OPS AND labels = "incident-7" ORDER BY created DESC',
        'project = OPS AND status = "Done"',
        'labels = "incident-7" AND project = OPS',
        "",
    ):
        response = api.post(SEARCH, json={"jql": jql})
        assert response.status_code == 400, jql
        body = response.json()
        assert body["errors"] == {} and body["errorMessages"][0].startswith("Error in the JQL Query: "), jql
    unknown = api.post(SEARCH, json={"jql": "project = NOPE AND labels = x"})
    assert unknown.status_code == 400
    assert unknown.json() == {
        "errorMessages": ["The value 'NOPE' does not exist for the field 'project'."],
        "errors": {},
    }


def test_a_missing_long_or_multiline_summary_is_refused_in_jiras_words(jira, api):
    base = {"project": {"key": "OPS"}, "issuetype": {"name": "Task"}}
    assert refused(api, **base) == {
        "errorMessages": [],
        "errors": {"summary": "You must specify a summary of the issue."},
    }
    assert refused(api, **base, summary="   ")["errors"] == {
        "summary": "You must specify a summary of the issue."
    }
    assert refused(api, **base, summary="two\nlines")["errors"] == {
        "summary": "The summary is invalid because it contains newline characters."
    }
    assert refused(api, **base, summary="x" * 256)["errors"] == {
        "summary": "Summary can't exceed 255 characters."
    }
    assert refused(api, **base, summary=7)["errors"] == {"summary": "Operation value must be a string"}
    assert create(api, "x" * 255)["key"] == "OPS-1"


def test_a_plain_string_description_is_refused_as_not_an_atlassian_document(jira, api):
    for description in (
        "Add a retry budget.",
        {"type": "doc", "content": []},
        {"type": "paragraph", "version": 1},
    ):
        assert refused(api, **fields(description=description)) == {
            "errorMessages": [],
            "errors": {"description": NOT_ADF},
        }
    assert jira.issues("OPS") == []


def test_an_unknown_project_or_issue_type_is_refused(jira, api):
    assert refused(api, **fields(project={"key": "NOPE"}))["errors"] == {
        "project": "Specify a valid project ID or key"
    }
    assert refused(api, **fields(issuetype={"name": "Epic"}))["errors"] == {
        "issuetype": "The issue type selected is invalid."
    }
    assert refused(api, summary="no type", project={"key": "OPS"})["errors"] == {
        "issuetype": "Specify an issue type"
    }
    project_id = api.get(f"{ISSUE}/{create(api)['key']}").json()["fields"]["project"]["id"]
    by_ids = create(
        api, project={"id": project_id}, issuetype={"id": jira.issues("OPS")[0]["fields"]["issuetype"]["id"]}
    )
    assert by_ids["key"] == "OPS-2"


def test_a_label_with_a_space_an_unknown_assignee_or_a_bad_due_date_is_refused(jira, api):
    assert refused(api, **fields(labels=["warroom", "needs review"]))["errors"] == {
        "labels": "The label 'needs review' contains spaces which is invalid."
    }
    assert refused(api, **fields(assignee={"accountId": "5b10ac8d82e05b22cc7d0000"}))["errors"] == {
        "assignee": "Specify a valid value for assignee"
    }
    assert refused(api, **fields(assignee={"emailAddress": "alice@example.com"}))["errors"] == {
        "assignee": "Specify a valid value for assignee"
    }
    for due in ("31/01/2030", "2030-02-30", "20300131", 20300131):
        assert refused(api, **fields(duedate=due))["errors"] == {
            "duedate": f"Error parsing date string: {due}"
        }
    assert jira.issues("OPS") == []


def test_every_field_error_is_reported_at_once_and_unknown_fields_cannot_be_set(jira, api):
    body = refused(
        api, project={"key": "NOPE"}, labels=["a b"], description="text", priority={"name": "High"}
    )
    assert body["errors"] == {
        "priority": "Field 'priority' cannot be set. It is not on the appropriate screen, or unknown.",
        "project": "Specify a valid project ID or key",
        "issuetype": "Specify an issue type",
        "summary": "You must specify a summary of the issue.",
        "description": NOT_ADF,
        "labels": "The label 'a b' contains spaces which is invalid.",
    }
    assert jira.issues("OPS") == []


def test_credentials_other_than_the_email_and_api_token_are_refused(jira, api):
    with httpx.Client(base_url=jira.base_url) as anonymous:
        nobody = anonymous.get(f"{ISSUE}/OPS-1")
        wrong = anonymous.get(f"{ISSUE}/OPS-1", auth=(jira.email, "ATATT-not-this-one"))
        stranger = anonymous.get(f"{ISSUE}/OPS-1", auth=("mallory@example.com", jira.api_token))
        bearer = anonymous.get(f"{ISSUE}/OPS-1", headers={"Authorization": f"Bearer {jira.api_token}"})
        garbage = anonymous.get(f"{ISSUE}/OPS-1", headers={"Authorization": "Basic !!!"})
        anyhow = anonymous.post(ISSUE, json={"fields": fields()})
    for answer in (nobody, wrong, stranger, bearer, garbage, anyhow):
        assert answer.status_code == 401
        assert answer.text == "Client must be authenticated to access this resource."
        assert answer.headers["content-type"].startswith("text/plain")
    assert "x-seraph-loginreason" not in nobody.headers
    assert wrong.headers["x-seraph-loginreason"] == "AUTHENTICATED_FAILED"
    assert [r.authorized for r in jira.requests] == [False] * 6 and jira.issues("OPS") == []
    assert api.get(f"{ISSUE}/OPS-1").status_code == 404 and jira.requests[-1].authorized


def test_a_body_that_is_not_json_is_refused(jira, api):
    form = api.post(
        ISSUE, content=b"summary=INC-7", headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status_code == 415
    invalid = {
        "errorMessages": ["Invalid request payload. Refer to the REST API documentation and try again."]
    }
    for raw in (b'{"fields": {', b'["INC-7"]', b'{"fields": "INC-7"}'):
        broken = api.post(ISSUE, content=raw, headers={"Content-Type": "application/json"})
        assert (broken.status_code, broken.json()) == (400, invalid)
    assert api.get(f"{ISSUE}/OPS-1", headers={"Accept": "text/html"}).status_code == 406
    assert (
        api.post(SEARCH, json={"jql": 'project = OPS AND labels = "x"', "maxResults": "2"}).json() == invalid
    )
    assert api.get("/rest/api/3/nowhere").status_code == 404
    assert jira.issues("OPS") == []
    post = next(r for r in jira.requests if r.method == "POST")
    assert (post.path, post.query, post.json) == (ISSUE, {}, None)


def test_fail_answers_the_next_requests_in_jiras_error_shape_then_recovers(jira, api):
    jira.fail(times=2)
    down = [api.post(ISSUE, json={"fields": fields()}) for _ in range(2)]
    assert [r.status_code for r in down] == [503, 503]
    assert down[0].json() == {"errorMessages": ["Service Unavailable"], "errors": {}}
    assert jira.issues("OPS") == []
    assert create(api)["key"] == "OPS-1"
    jira.fail(status=429)
    limited = api.get(f"{ISSUE}/OPS-1")
    assert limited.status_code == 429 and limited.headers["retry-after"] == "1"
    with pytest.raises(ValueError):
        jira.fail(status=599)


def test_a_person_moving_an_issue_sends_a_signed_issue_updated_delivery(jira, api, receiver):
    create(api, labels=["incident-7"])
    jira.deliver_to(receiver.url, SECRET)
    assert jira.transition("OPS-1", "Done", BOB) == 202
    ((headers, body),) = receiver.got
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-hub-signature"], expected)
    assert headers["content-type"] == "application/json" and headers["x-atlassian-webhook-flow"] == "Primary"
    assert re.fullmatch(
        r"[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}", headers["x-atlassian-webhook-identifier"]
    )
    assert "x-atlassian-webhook-retry" not in headers
    event = json.loads(body)
    assert (event["webhookEvent"], event["issue_event_type_name"]) == ("jira:issue_updated", "issue_generic")
    assert isinstance(event["timestamp"], int) and event["timestamp"] > 1_700_000_000_000
    assert (event["user"]["accountId"], event["user"]["displayName"]) == (BOB, "Bob Example")
    assert event["issue"] == api.get(f"{ISSUE}/OPS-1").json() == jira.issues("OPS")[0]
    status = event["issue"]["fields"]["status"]
    assert (status["name"], status["statusCategory"]["key"], status["statusCategory"]["id"]) == (
        "Done",
        "done",
        3,
    )
    assert event["changelog"]["id"].isdigit()
    assert event["changelog"]["items"] == [
        {
            "field": "status",
            "fieldtype": "jira",
            "fieldId": "status",
            "from": "10000",
            "fromString": "To Do",
            "to": "10001",
            "toString": "Done",
        }
    ]
    receiver.status = 500
    assert jira.transition("OPS-1", "In Progress", ALICE) == 500
    moved = json.loads(receiver.got[-1][1])
    assert moved["issue"]["fields"]["status"]["statusCategory"]["key"] == "indeterminate"
    assert moved["changelog"]["items"][0]["fromString"] == "Done"
    assert [(d.status, d.retry) for d in jira.deliveries] == [(202, 0), (500, 0)]
    assert len({d.id for d in jira.deliveries}) == 2


def test_a_redelivery_keeps_its_identifier_body_and_signature(jira, api, receiver):
    create(api)
    jira.deliver_to(receiver.url, SECRET)
    receiver.status = 503
    assert jira.transition("OPS-1", "Done", ALICE) == 503
    first = jira.deliveries[0]
    receiver.status = 200
    assert jira.redeliver(first.id) == 200
    (before, sent), (after, resent) = receiver.got
    assert after["x-atlassian-webhook-identifier"] == before["x-atlassian-webhook-identifier"] == first.id
    assert resent == sent and after["x-hub-signature"] == before["x-hub-signature"] == sign(SECRET, sent)
    assert after["x-atlassian-webhook-retry"] == "1"
    assert [(d.id, d.status, d.retry) for d in jira.deliveries] == [(first.id, 503, 0), (first.id, 200, 1)]
    with pytest.raises(KeyError):
        jira.redeliver("no-such-delivery")


def test_a_webhook_without_a_secret_is_unsigned_and_an_unreachable_one_is_status_0(jira, api, receiver):
    create(api)
    jira.deliver_to(receiver.url, "")
    assert jira.transition("OPS-1", "In Progress", ALICE) == 202
    assert "x-hub-signature" not in receiver.got[0][0]
    jira.deliver_to("http://127.0.0.1:9/hooks/jira", SECRET)
    assert jira.transition("OPS-1", "Done", ALICE) == 0
    assert jira.deliveries[-1].status == 0


def test_transition_without_a_webhook_changes_the_issue_and_refuses_what_a_person_could_not_do(jira, api):
    create(api)
    assert jira.transition("OPS-1", "Done", ALICE) is None
    assert jira.issues("OPS")[0]["fields"]["status"]["name"] == "Done" and jira.deliveries == []
    with pytest.raises(ValueError):
        jira.transition("OPS-1", "Done", ALICE)  # Done already
    with pytest.raises(ValueError):
        jira.transition("OPS-1", "Closed", ALICE)
    with pytest.raises(ValueError):
        jira.transition("OPS-1", "To Do", "no-such-account")
    with pytest.raises(KeyError):
        jira.transition("OPS-9", "To Do", ALICE)


def test_projects_and_people_can_be_added_and_reset_starts_over(jira, api):
    jira.add_project("SEC", "Security", issue_types=("Bug",))
    jira.add_user("712020:0e3b7c52-6a2b-4a1e-9b8c-000000000001", "dave@example.com", "Dave Example")
    security = {
        "project": {"key": "SEC"},
        "summary": "INC-8",
        "assignee": {"accountId": "712020:0e3b7c52-6a2b-4a1e-9b8c-000000000001"},
    }
    assert refused(api, **security, issuetype={"name": "Task"})["errors"] == {
        "issuetype": "The issue type selected is invalid."
    }
    made = api.post(ISSUE, json={"fields": security | {"issuetype": {"name": "Bug"}}})
    assert made.status_code == 201 and made.json()["key"] == "SEC-1"
    assert create(api)["key"] == "OPS-1"
    assert api.get(USERS, params={"query": "dave"}).json()[0]["displayName"] == "Dave Example"
    with pytest.raises(ValueError):
        jira.add_project("ops", "Operations again")
    with pytest.raises(ValueError):
        jira.add_user(ALICE, "alice@example.com", "Alice Again")
    jira.reset()
    assert jira.issues("OPS") == [] and jira.requests == []
    with pytest.raises(KeyError):
        jira.issues("SEC")
    assert create(api)["key"] == "OPS-1"


def test_the_api_token_looks_like_an_atlassian_api_token(jira):
    assert re.fullmatch(r"ATATT3xFfGF0[A-Za-z0-9_\-]{180}", jira.api_token)
    other = FakeJira()
    assert other.api_token != jira.api_token
    other.stop()
