"""The Zoom fake over real HTTP on loopback: it issues Server-to-Server OAuth tokens that expire,
creates and lists meetings as Zoom's Meetings API does, refuses what Zoom refuses in Zoom's words,
and fails on demand."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from bot.simulator.zoom import FakeZoom

MEETINGS = "/v2/users/me/meetings"
INVALID_TOKEN = {"code": 124, "message": "Invalid access token."}
EXPIRED_TOKEN = {"code": 124, "message": "Access token is expired."}
NOT_JSON = {"code": 300, "message": "Request Body should be a valid JSON object."}
ZOOM_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"
LIST_ITEM = {"uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda"}
LIST_ITEM |= {"created_at", "join_url"}


@pytest.fixture
def zoom() -> Iterator[FakeZoom]:
    fake = FakeZoom()
    fake.start()
    yield fake
    fake.stop()


def ask_token(zoom: FakeZoom, *, auth: Any = None, in_body: bool = False, **params: str) -> httpx.Response:
    """POST /oauth/token as Warroom's adapter would: Basic client credentials, the grant's parameters."""
    params = {"grant_type": "account_credentials", "account_id": zoom.account_id} | params
    params = {key: value for key, value in params.items() if value}
    auth = httpx.BasicAuth(zoom.client_id, zoom.client_secret) if auth is None else auth
    with httpx.Client(base_url=zoom.oauth_url, auth=auth) as client:
        if in_body:
            return client.post("/oauth/token", data=params)
        return client.post("/oauth/token", params=params)


def api(zoom: FakeZoom, token: str | None = None) -> httpx.Client:
    token = token or ask_token(zoom).json()["access_token"]
    return httpx.Client(base_url=zoom.api_url, headers={"Authorization": f"Bearer {token}"})


def create(client: httpx.Client, **body: Any) -> dict[str, Any]:
    response = client.post(MEETINGS, json={"topic": "INC-7: checkout is down", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def invalid(*fields: str) -> dict[str, Any]:
    errors = [{"field": field, "message": "Invalid field."} for field in fields]
    return {"code": 300, "message": "Validation Failed.", "errors": errors}


def test_account_credentials_buy_a_bearer_token_from_the_query_or_a_form_body(zoom):
    for in_body in (False, True):
        response = ask_token(zoom, in_body=in_body)
        assert response.status_code == 200, response.text
        got = response.json()
        assert set(got) == {"access_token", "token_type", "expires_in", "scope", "api_url"}
        assert (got["token_type"], got["expires_in"], got["api_url"]) == ("bearer", 3599, zoom.api_url)
        assert "meeting:write:meeting:admin" in got["scope"].split()
        assert "meeting:read:list_meetings:admin" in got["scope"].split()
        header, claims, _ = got["access_token"].split(".")
        assert got["access_token"].startswith("eyJ")
        assert json.loads(base64.urlsafe_b64decode(header + "=="))["alg"] == "HS512"
        assert json.loads(base64.urlsafe_b64decode(claims + "=="))["aid"] == zoom.account_id
    query_call, form_call = zoom.requests
    assert (query_call.method, query_call.path, query_call.authorized) == ("POST", "/oauth/token", True)
    assert query_call.query == {"grant_type": ["account_credentials"], "account_id": [zoom.account_id]}
    assert form_call.query == {} and form_call.form == {
        "grant_type": "account_credentials",
        "account_id": zoom.account_id,
    }
    assert form_call.headers["authorization"].startswith("Basic ")


def test_several_tokens_live_at_once_as_the_s2s_grant_allows(zoom):
    first, second = (ask_token(zoom).json()["access_token"] for _ in range(2))
    assert first != second
    for token in (first, second):
        with api(zoom, token) as client:
            assert client.get(MEETINGS).status_code == 200


def test_wrong_missing_or_non_basic_client_credentials_are_refused_as_invalid_client(zoom):
    refused = {"reason": "Invalid client_id or client_secret", "error": "invalid_client"}
    for auth in (httpx.BasicAuth(zoom.client_id, "not-the-secret"), httpx.BasicAuth("someone", "else")):
        response = ask_token(zoom, auth=auth)
        assert (response.status_code, response.json()) == (400, refused)
    with httpx.Client(base_url=zoom.oauth_url) as bare:
        response = bare.post("/oauth/token", params={"grant_type": "account_credentials"})
        assert (response.status_code, response.json()) == (400, refused)
        response = bare.post("/oauth/token", headers={"Authorization": f"Bearer {zoom.client_secret}"})
        assert (response.status_code, response.json()) == (400, refused)
    assert [call.authorized for call in zoom.requests] == [False] * 4


def test_a_grant_other_than_account_credentials_is_an_unsupported_grant_type(zoom):
    refused = {"reason": "unsupported grant type", "error": "unsupported_grant_type"}
    for grant in ("client_credentials", "authorization_code", ""):
        response = ask_token(zoom, grant_type=grant)
        assert (response.status_code, response.json()) == (400, refused)


def test_a_wrong_or_missing_account_id_is_refused(zoom):
    for account in ("someone-elses-account", ""):
        response = ask_token(zoom, account_id=account)
        assert response.status_code == 400
        assert response.json() == {"reason": "Invalid account_id", "error": "invalid_request"}


def test_a_meeting_is_created_with_zoom_fields_links_and_settings(zoom):
    body = {"type": 2, "start_time": "2030-05-01T09:30:00", "timezone": "Europe/Paris", "duration": 45}
    body |= {"agenda": "Bridge for INC-7", "settings": {"join_before_host": True, "waiting_room": False}}
    with api(zoom) as client:
        meeting = create(client, **body)
    assert isinstance(meeting["id"], int) and len(str(meeting["id"])) == 11
    assert (meeting["topic"], meeting["type"], meeting["status"]) == ("INC-7: checkout is down", 2, "waiting")
    assert meeting["start_time"] == "2030-05-01T07:30:00Z"  # Paris local time, returned in GMT
    assert (meeting["duration"], meeting["timezone"], meeting["agenda"]) == (
        45,
        "Europe/Paris",
        body["agenda"],
    )
    assert meeting["host_email"] == "warroom-bot@example.com" and meeting["host_id"]
    assert re.fullmatch(r"[A-Za-z0-9+/]{22}==", meeting["uuid"])
    assert re.fullmatch(ZOOM_TIME, meeting["created_at"])
    assert meeting["join_url"] == f"{zoom.api_url}/j/{meeting['id']}?pwd={meeting['encrypted_password']}"
    assert meeting["start_url"].startswith(f"{zoom.api_url}/s/{meeting['id']}?zak=eyJ")
    assert re.fullmatch(r"[A-Za-z0-9]{6}", meeting["password"]) and meeting["h323_password"].isdigit()
    settings = meeting["settings"]
    assert (settings["join_before_host"], settings["waiting_room"], settings["approval_type"]) == (
        True,
        False,
        2,
    )
    assert (settings["audio"], settings["auto_recording"], settings["mute_upon_entry"]) == (
        "both",
        "none",
        False,
    )
    assert zoom.meetings() == [meeting]
    zoom.meetings()[0]["topic"] = "changed"
    assert zoom.meetings()[0]["topic"] == "INC-7: checkout is down"
    assert zoom.requests[-1].json == {"topic": "INC-7: checkout is down", **body}
    assert zoom.requests[-1].authorized is True


def test_defaults_fill_what_is_left_out_and_a_waiting_room_turns_off_join_before_host(zoom):
    with api(zoom) as client:
        meeting = create(client, topic=None, settings={"waiting_room": True, "join_before_host": True})
    assert (meeting["topic"], meeting["type"], meeting["duration"], meeting["timezone"]) == (
        "Zoom Meeting",
        2,
        60,
        "UTC",
    )
    assert (meeting["settings"]["waiting_room"], meeting["settings"]["join_before_host"]) == (True, False)
    started = datetime.strptime(meeting["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(started - zoom.now()) < timedelta(minutes=1)


def test_join_links_use_the_configured_web_root():
    zoom = FakeZoom(web_url="https://us05web.zoom.us")
    zoom.start()
    try:
        with api(zoom) as client:
            meeting = create(client)
        assert meeting["join_url"].startswith(f"https://us05web.zoom.us/j/{meeting['id']}?pwd=")
    finally:
        zoom.stop()


def test_each_post_creates_another_meeting_as_zoom_has_no_idempotency_key(zoom):
    with api(zoom) as client:
        first, second = create(client), create(client)
    assert first["id"] != second["id"] and first["join_url"] != second["join_url"]
    assert [meeting["topic"] for meeting in zoom.meetings()] == ["INC-7: checkout is down"] * 2


def test_the_api_refuses_a_missing_unknown_or_non_bearer_token(zoom):
    ask_token(zoom)
    for headers in ({}, {"Authorization": "Bearer eyJub3QiOiJvdXJzIn0.e30.c2ln"}):
        with httpx.Client(base_url=zoom.api_url, headers=headers) as client:
            for response in (client.get(MEETINGS), client.post(MEETINGS, json={"topic": "x"})):
                assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    with httpx.Client(base_url=zoom.api_url, auth=httpx.BasicAuth(zoom.client_id, zoom.client_secret)) as c:
        assert (c.get(MEETINGS).status_code, c.get(MEETINGS).json()) == (401, INVALID_TOKEN)
    assert zoom.meetings() == [] and not any(call.authorized for call in zoom.requests[1:])


def test_a_token_expires_after_expires_in_and_a_new_one_works(zoom):
    token = ask_token(zoom).json()["access_token"]
    with api(zoom, token) as client:
        zoom.advance(zoom.expires_in - 5)
        assert client.get(MEETINGS).status_code == 200
        zoom.expire_tokens()
        response = client.post(MEETINGS, json={"topic": "INC-7"})
        assert (response.status_code, response.json()) == (401, EXPIRED_TOKEN)
        assert zoom.requests[-1].authorized is False
    with api(zoom) as fresh:
        assert create(fresh)["status"] == "waiting"


def test_a_body_that_is_not_a_json_object_is_refused(zoom):
    with api(zoom) as client:
        for response in (
            client.post(MEETINGS, content=b"{topic", headers={"Content-Type": "application/json"}),
            client.post(MEETINGS, json=["INC-7"]),
            client.post(MEETINGS, data={"topic": "INC-7"}),
            client.post(MEETINGS),
        ):
            assert (response.status_code, response.json()) == (400, NOT_JSON)
    assert zoom.meetings() == []


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"topic": "x" * 201}, ["topic"]),
        ({"agenda": "x" * 2001}, ["agenda"]),
        ({"type": 5}, ["type"]),
        ({"type": "2"}, ["type"]),
        ({"duration": "30"}, ["duration"]),
        ({"start_time": "next tuesday"}, ["start_time"]),
        ({"timezone": "Mars/Olympus_Mons"}, ["timezone"]),
        ({"settings": {"waiting_room": "yes", "audio": "carrier pigeon", "jbh_time": 7}}, None),
        ({"topic": 7, "type": 4, "agenda": ["a"]}, ["topic", "type", "agenda"]),
    ],
)
def test_invalid_fields_are_refused_in_zoom_validation_shape(zoom, body, fields):
    fields = fields or ["settings.waiting_room", "settings.audio", "settings.jbh_time"]
    with api(zoom) as client:
        response = client.post(MEETINGS, json={"topic": "INC-7", **body})
    assert (response.status_code, response.json()) == (400, invalid(*fields))
    assert zoom.meetings() == []


def test_limits_are_inclusive_and_unknown_settings_are_ignored(zoom):
    with api(zoom) as client:
        meeting = create(client, topic="t" * 200, agenda="a" * 2000, settings={"not_a_setting": "x"})
    assert len(meeting["topic"]) == 200 and len(meeting["agenda"]) == 2000
    assert "not_a_setting" not in meeting["settings"]


def test_only_the_host_is_a_user(zoom):
    with api(zoom) as client:
        host = create(client)
        for user in (host["host_id"], host["host_email"]):
            assert client.get(f"/v2/users/{user}/meetings").status_code == 200
        response = client.post("/v2/users/someone@example.com/meetings", json={"topic": "x"})
    assert (response.status_code, response.json()) == (
        404,
        {"code": 1001, "message": "User does not exist: someone@example.com"},
    )


def test_meetings_are_listed_by_start_time_in_pages_without_instant_ones(zoom):
    with api(zoom) as client:
        made = [
            create(client, start_time=f"2030-01-0{day}T10:00:00Z", agenda="a" * 300)
            for day in (5, 3, 4, 1, 2)
        ]
        create(client, type=1)
        pages, token = [], ""
        while True:
            params = {"type": "scheduled", "page_size": 2} | ({"next_page_token": token} if token else {})
            page = client.get(MEETINGS, params=params).json()
            pages.append(page)
            if not (token := page["next_page_token"]):
                break
    assert [len(page["meetings"]) for page in pages] == [2, 2, 1]
    assert {(page["page_size"], page["total_records"]) for page in pages} == {(2, 5)}
    assert set(pages[0]) == {"page_size", "total_records", "next_page_token", "meetings"}
    items = [item for page in pages for item in page["meetings"]]
    assert [item["start_time"][:10] for item in items] == [f"2030-01-0{day}" for day in range(1, 6)]
    assert all(set(item) == LIST_ITEM for item in items)
    assert all(item["agenda"] == "a" * 250 for item in items)  # Zoom truncates agendas in lists
    by_id = {meeting["id"]: meeting for meeting in made}
    assert all(item["join_url"] == by_id[item["id"]]["join_url"] for item in items)


def test_upcoming_and_previous_follow_the_clock_and_live_is_empty(zoom):
    soon = (zoom.now() + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    with api(zoom) as client:
        meeting = create(client, start_time=soon, duration=30)

        def listed(kind: str) -> list[int]:
            return [item["id"] for item in client.get(MEETINGS, params={"type": kind}).json()["meetings"]]

        assert listed("upcoming") == listed("upcoming_meetings") == listed("scheduled") == [meeting["id"]]
        assert listed("previous_meetings") == listed("live") == []
        zoom.advance(2 * 3600)
        token = ask_token(zoom).json()["access_token"]
        client.headers["Authorization"] = f"Bearer {token}"
        assert (listed("upcoming"), listed("previous_meetings")) == ([], [meeting["id"]])
    with api(zoom) as client:
        page = client.get(MEETINGS).json()
    assert (page["page_size"], page["total_records"], page["next_page_token"]) == (30, 1, "")


def test_list_refuses_a_bad_type_page_size_page_token_or_unmodelled_parameter(zoom):
    with api(zoom) as client:
        for _ in range(3):
            create(client, start_time="2030-01-01T10:00:00Z")
        token = client.get(MEETINGS, params={"page_size": 1}).json()["next_page_token"]
        cases = [
            ({"type": "pending"}, ["type"]),
            ({"page_size": 301}, ["page_size"]),
            ({"page_size": 0}, ["page_size"]),
            ({"page_size": "ten"}, ["page_size"]),
            ({"page_number": 2}, ["page_number"]),
            ({"next_page_token": "not-a-token"}, ["next_page_token"]),
            ({"next_page_token": token, "type": "upcoming"}, ["next_page_token"]),
        ]
        for params, fields in cases:
            response = client.get(MEETINGS, params=params)
            assert (response.status_code, response.json()) == (400, invalid(*fields)), params
        assert len(client.get(MEETINGS, params={"page_size": 300}).json()["meetings"]) == 3
        assert client.get(MEETINGS, params={"next_page_token": token}).status_code == 200
        zoom.advance(901)  # page tokens last 15 minutes; the access token lives on
        response = client.get(MEETINGS, params={"next_page_token": token})
    assert (response.status_code, response.json()) == (400, invalid("next_page_token"))


def test_fail_answers_the_next_requests_then_recovers(zoom):
    with api(zoom) as client:
        zoom.fail(times=2)
        for _ in range(2):
            response = client.post(MEETINGS, json={"topic": "INC-7"})
            assert (response.status_code, response.json()) == (
                503,
                {"code": 503, "message": "Service Unavailable"},
            )
        assert create(client)["status"] == "waiting"
        zoom.fail(status=429)
        response = client.post(MEETINGS, json={"topic": "INC-7"})
    assert response.status_code == 429
    assert response.json()["code"] == 429
    assert response.json()["message"].startswith("You have exceeded the daily rate limit (100) of Meeting")
    zoom.fail(status=500)
    assert ask_token(zoom).status_code == 500  # the token endpoint fails too
    assert len(zoom.meetings()) == 1 and len(zoom.requests) == 6


def test_reset_forgets_tokens_meetings_requests_and_failures_but_keeps_the_credentials(zoom):
    credentials = (zoom.account_id, zoom.client_id, zoom.client_secret)
    with api(zoom) as client:
        create(client)
        zoom.fail(times=3)
        zoom.reset()
        response = client.get(MEETINGS)
    assert (response.status_code, response.json()) == (401, INVALID_TOKEN)
    assert zoom.meetings() == [] and len(zoom.requests) == 1
    assert (zoom.account_id, zoom.client_id, zoom.client_secret) == credentials
    assert ask_token(zoom).status_code == 200
