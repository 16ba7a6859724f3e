"""The HTTP API over real HTTP: bearer tokens and their scopes, problem details, declaring and
changing incidents exactly as Slack does (same war room, same lines, once per Idempotency-Key),
filters and cursors, private incidents, the postmortem, follow-ups, alerts, the rate limit."""

from __future__ import annotations

import concurrent.futures
import json
import uuid

import httpx
import pytest
from sqlmodel import select

from bot import clock
from bot.api.tokens import create_token, revoke_token
from bot.simulator.harness import BROADCAST, LocalWarroom, local_settings
from storage.models import ApiRequest, ApiToken, Incident, TimelineEvent
from storage.session import in_session, session_scope


@pytest.fixture
def app(simulator, db):
    warroom = LocalWarroom(simulator, local_settings(simulator, db, warroom_api_rate_limit=6000))
    yield warroom
    warroom.stop()


def token(name: str = "deploy-bot", scope: str = "write", *, private: bool = False) -> str:
    return in_session(create_token, name, scope, private=private, at=clock.now())[1]


class Client:
    """An API client with one token."""

    def __init__(self, app: LocalWarroom, secret: str | None) -> None:
        self.base = f"{app.server.url}/api/v1"
        self.headers = {"authorization": f"Bearer {secret}"} if secret else {}

    def get(self, path: str, **params: object) -> httpx.Response:
        return httpx.get(self.base + path, params=params, headers=self.headers)

    def post(self, path: str, body: object, key: str | None = None) -> httpx.Response:
        headers = {
            **self.headers,
            "idempotency-key": key or uuid.uuid4().hex,
            "content-type": "application/json",
        }
        return httpx.post(self.base + path, content=json.dumps(body), headers=headers)


@pytest.fixture
def writer(app):
    return Client(app, token())


@pytest.fixture
def reader(app):
    return Client(app, token("dashboard", "read"))


def is_problem(answer: httpx.Response, status: int) -> dict:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    body = answer.json()
    assert body["status"] == status and body["title"] and body["detail"]
    return body


def test_every_request_needs_a_live_token_and_writes_need_a_write_token(app, reader):
    assert is_problem(Client(app, None).get("/incidents"), 401)["detail"].startswith("Send a token")
    assert Client(app, None).get("/incidents").headers["www-authenticate"] == "Bearer"
    is_problem(Client(app, "wr_not-a-token").get("/incidents"), 401)
    assert reader.get("/incidents").status_code == 200
    refused = is_problem(reader.post("/incidents", {"title": "Checkout down"}), 403)
    assert "may only read" in refused["detail"]
    in_session(revoke_token, "dashboard", clock.now())
    is_problem(reader.get("/incidents"), 401)
    assert in_session(lambda s: s.exec(select(Incident)).all()) == []


def test_a_declaration_opens_the_same_war_room_as_slack_attributed_to_the_token(app, writer):
    answer = writer.post(
        "/incidents", {"title": "Checkout returns 500s", "severity": 2, "commander": "U0ALICE"}
    )
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["ref"], body["severity_label"], body["status"], body["commander"]) == (
        "INC-1",
        "SEV2",
        "investigating",
        "U0ALICE",
    )
    app.settle()
    with session_scope() as session:
        incident = session.exec(select(Incident)).one()
        notes = [e.text for e in session.exec(select(TimelineEvent)) if e.kind == "note"]
    room = app.sim.channel(incident.channel_id)
    assert room["name"] == "inc-1-checkout-returns-500s"
    assert "U0ALICE" in room["members"]
    assert room["pins"], "the incident card is pinned"
    assert any("INC-1" in m["text"] for m in app.sim.channel(BROADCAST)["messages"])
    assert notes == ["Declared through the API by token deploy-bot"]
    seen = writer.get("/incidents/1").json()
    assert seen["channel_id"] == incident.channel_id and seen["channel_name"] == room["name"]


def test_a_retried_declaration_declares_once_and_replays_the_first_answer(app, writer):
    body = {"title": "Payments timing out", "severity": 1}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: writer.post("/incidents", body, key="deploy-4512"), range(4)))
    assert {a.status_code for a in answers} == {201}
    assert {a.json()["number"] for a in answers} == {1}
    assert sum(a.headers.get("idempotent-replayed") == "true" for a in answers) == 3
    app.settle()
    assert len(app.sim.calls_to("conversations.create")) == 1
    other = is_problem(writer.post("/incidents", {"title": "Something else"}, key="deploy-4512"), 422)
    assert "used for another request" in other["detail"]
    assert len(in_session(lambda s: s.exec(select(Incident)).all())) == 1
    assert [r.status for r in in_session(lambda s: s.exec(select(ApiRequest)).all())] == [201]


def test_changes_show_in_the_room_and_the_broadcast_once_saying_which_token_made_them(app, writer):
    writer.post("/incidents", {"title": "Checkout returns 500s"})
    app.settle()
    room = in_session(lambda s: s.exec(select(Incident)).one()).channel_id
    for _ in range(2):  # the client retries: one change
        answer = writer.post("/incidents/1/severity", {"severity": 1}, key="sev-1")
        assert answer.status_code == 200 and answer.json()["severity"] == 1
    assert writer.post("/incidents/1/status", {"status": "identified"}).json()["status"] == "identified"
    assert writer.post("/incidents/1/updates", {"text": "Rolled back; error rate falling"}).status_code == 200
    note = writer.post("/incidents/1/notes", {"text": "Deploy 4512 reverted"})
    assert note.status_code == 201 and note.json()["kind"] == "note"
    app.settle()
    lines = [m["text"] for m in app.sim.channel(room)["messages"]]
    severity = [t for t in lines if "changed the severity from SEV3 to *SEV1*" in t]
    assert len(severity) == 1 and "_Through the Warroom API, token *deploy-bot*._" in severity[0]
    assert any("changed the status from Investigating to *Identified*" in t for t in lines)
    assert any("Rolled back; error rate falling" in t for t in lines)
    assert any("Rolled back; error rate falling" in m["text"] for m in app.sim.channel(BROADCAST)["messages"])
    kinds = [e["kind"] for e in writer.get("/incidents/1/timeline").json()["items"]]
    assert kinds.count("severity_changed") == 1 and "status_changed" in kinds and "update" in kinds
    again = is_problem(writer.post("/incidents/1/severity", {"severity": 1}), 409)
    assert again["detail"].startswith("INC-1 is already SEV1")


def test_bad_input_gets_a_problem_naming_the_field_and_changes_nothing(app, writer):
    invalid = is_problem(writer.post("/incidents", {"title": "Checkout", "severity": 9}), 422)
    assert invalid["errors"][0]["where"] == "body.severity"
    is_problem(writer.post("/incidents", {"title": "Checkout", "colour": "red"}), 422)
    missing_key = httpx.post(writer.base + "/incidents", json={"title": "x"}, headers=writer.headers)
    assert "header.Idempotency-Key" in is_problem(missing_key, 422)["errors"][0]["where"]
    is_problem(writer.post("/incidents/4/severity", {"severity": 1}), 404)
    nobody = is_problem(writer.post("/incidents", {"title": "Checkout", "commander": "U0NOBODY"}), 422)
    assert "not someone in this workspace" in nobody["detail"]
    is_problem(writer.get("/incidents", cursor="not-a-cursor"), 422)
    is_problem(writer.get("/no-such-thing"), 404)
    assert in_session(lambda s: s.exec(select(Incident)).all()) == []


def test_lists_filter_and_page_by_cursor_and_private_incidents_need_a_token_allowed_them(app, writer):
    for n in range(7):
        writer.post("/incidents", {"title": f"Service {n} degraded", "severity": 1 + n % 2})
    writer.post("/incidents", {"title": "Secret acquisition", "private": True})
    app.settle()
    first = writer.get("/incidents", limit=3).json()
    numbers = [i["number"] for i in first["items"]]
    assert numbers == [7, 6, 5]  # the private INC-8 is not there for this token
    second = writer.get("/incidents", limit=3, cursor=first["next_cursor"]).json()
    third = writer.get("/incidents", limit=3, cursor=second["next_cursor"]).json()
    assert [i["number"] for i in second["items"] + third["items"]] == [4, 3, 2, 1]
    assert third["next_cursor"] is None
    assert [i["number"] for i in writer.get("/incidents", severity=2).json()["items"]] == [6, 4, 2]
    assert [i["number"] for i in writer.get("/incidents", q="SERVICE 3").json()["items"]] == [4]
    assert writer.get("/incidents", status="closed").json()["items"] == []
    is_problem(writer.get("/incidents/8"), 404)
    is_problem(writer.get("/incidents/8/postmortem"), 404)
    insider = Client(app, token("legal", "read", private=True))
    assert insider.get("/incidents", limit=1).json()["items"][0]["title"] == "Secret acquisition"


def test_postmortem_follow_ups_and_alerts_read_as_recorded(app, writer):
    writer.post("/incidents", {"title": "Checkout returns 500s"})
    app.settle()
    room = in_session(lambda s: s.exec(select(Incident)).one()).channel_id
    app.command("followup <@U0CAROL|carol> Alert on checkout 5xx before customers notice", channel=room)
    app.settle()
    markdown = writer.get("/incidents/1/postmortem")
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "Checkout returns 500s" in markdown.text
    document = writer.get("/incidents/1/postmortem", format="json")
    assert (document.json()["ref"], document.json()["title"]) == ("INC-1", "Checkout returns 500s")
    [followup] = writer.get("/incidents/1/followups").json()
    assert followup["owner"] == "U0CAROL" and followup["done_at"] is None
    assert writer.get("/alerts").json() == {"items": [], "next_cursor": None}


def test_a_token_over_its_rate_limit_is_told_when_to_come_back(simulator, db):
    app = LocalWarroom(simulator, local_settings(simulator, db, warroom_api_rate_limit=60))
    try:
        client = Client(app, token())
        answers = [client.get("/incidents") for _ in range(8)]
        refused = [a for a in answers if a.status_code == 429]
        assert refused and all(a.status_code == 200 for a in answers[:6])
        assert int(is_problem(refused[0], 429) and refused[0].headers["retry-after"]) >= 1
    finally:
        app.stop()


def test_the_openapi_document_describes_the_api(app):
    document = httpx.get(f"{app.server.url}/api/v1/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert document["servers"] == [{"url": "/api/v1"}]
    assert {"/incidents", "/incidents/{number}", "/incidents/{number}/timeline", "/alerts"} <= set(
        document["paths"]
    )
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    with session_scope() as session:
        assert session.exec(select(ApiToken)).all() == []
