"""The PagerDuty gateway against the strict local fake: pages once, waits as PagerDuty asks
(through an injected sleep, so nothing here sleeps), and turns failures into sentences."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.adapters.pagerduty import PagerDutyError, PagerDutyGateway, Service
from bot.simulator.pagerduty import FakePagerDuty

CHECKOUT = Service("PSVC001", "Checkout API", "PEP0001")
KEY = "warroom-INC-7-PSVC001"
DATA = Path(__file__).parent.parent / "data" / "pagerduty"


@pytest.fixture
def fake() -> Iterator[FakePagerDuty]:
    server = FakePagerDuty()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


def gateway(fake, sleeps, *, token=None, from_email="warroom@example.com", timeout=5.0) -> PagerDutyGateway:
    """A gateway whose waits are recorded in `sleeps` instead of slept."""
    return PagerDutyGateway(
        token or fake.token, fake.base_url, from_email, timeout=timeout, max_attempts=3, sleep=sleeps.append
    )


def refusal(call) -> str:
    """The sentence a person would be shown for `call`."""
    with pytest.raises(PagerDutyError) as raised:
        asyncio.run(call)
    return raised.value.user_message


def test_a_page_opens_one_high_urgency_incident_and_a_retry_returns_the_same(fake, sleeps):
    pd = gateway(fake, sleeps)
    first = asyncio.run(pd.trigger(CHECKOUT, "INC-7 SEV2: Checkout is down", KEY, "500s since 09:02"))
    again = asyncio.run(pd.trigger(CHECKOUT, "INC-7 SEV2: Checkout is down", KEY, "500s since 09:02"))
    assert first == again and first.assignees == ["Alice Archer"] and first.html_url.endswith(first.id)
    assert list(fake.incidents) == [first.id]
    post = next(r for r in fake.requests if r.method == "POST")
    assert post.headers["from"] == "warroom@example.com"
    assert post.json["incident"] | {"body": None} == {
        "type": "incident",
        "title": "INC-7 SEV2: Checkout is down",
        "service": {"id": "PSVC001", "type": "service_reference"},
        "urgency": "high",
        "incident_key": KEY,
        "body": None,
    }
    assert [(r.method, r.path) for r in fake.requests] == [
        ("POST", "/incidents"),
        ("POST", "/incidents"),
        ("GET", "/incidents"),
    ]


def test_a_service_is_found_by_exact_name_or_by_its_only_partial_match(fake, sleeps):
    pd = gateway(fake, sleeps)
    assert asyncio.run(pd.find_service("checkout")) == CHECKOUT
    fake.add_service("PSVC003", "Checkout API Canary", "PEP0003")
    assert asyncio.run(pd.find_service("CHECKOUT API")) == CHECKOUT
    assert refusal(pd.find_service("checkout")) == (
        "Several PagerDuty services match 'checkout': Checkout API, Checkout API Canary. Name one exactly."
    )


def test_an_unknown_service_is_named_back_with_the_known_ones(fake, sleeps):
    message = refusal(gateway(fake, sleeps).find_service("payments <!channel>"))
    assert message == (
        "No PagerDuty service is named 'payments &lt;!channel&gt;'; known: Checkout API, Orders DB."
    )


def test_every_page_of_matching_services_is_read(fake, sleeps):
    for n in range(150):
        fake.add_service(f"PBULK{n:03d}", f"Bulk {n:03d}", "PEP0009")
    assert asyncio.run(gateway(fake, sleeps).find_service("bulk 149")).id == "PBULK149"
    fake.requests.clear()
    assert "Several PagerDuty services match 'bulk'" in refusal(gateway(fake, sleeps).find_service("bulk"))
    assert [r.query["offset"] for r in fake.requests] == [["0"], ["100"]]


def test_a_rate_limit_is_waited_out_as_retry_after_asks(fake, sleeps):
    fake.rate_limit(1, retry_after=1)
    assert asyncio.run(gateway(fake, sleeps).find_service("Orders DB")).id == "PSVC002"
    assert sleeps == [1] and len(fake.requests) == 2


def test_a_long_retry_after_is_capped_so_the_person_is_not_kept_waiting(fake, sleeps):
    fake.rate_limit(1, retry_after=600)
    asyncio.run(gateway(fake, sleeps).oncalls("PEP0001"))
    assert sleeps == [5.0]


def test_endless_rate_limiting_gives_up_after_max_attempts(fake, sleeps):
    fake.rate_limit(10)
    message = refusal(gateway(fake, sleeps).trigger(CHECKOUT, "title", KEY, ""))
    assert message == "PagerDuty is rate limiting us; try again in a minute."
    assert len(fake.requests) == 3 and sleeps == [1, 1] and fake.incidents == {}


def test_a_server_error_is_a_sentence_and_is_not_retried(fake, sleeps):
    fake.fail(1, status=500)
    message = refusal(gateway(fake, sleeps).find_service("checkout"))
    assert message == "PagerDuty had an error (500) while finding the service; try again in a minute."
    assert len(fake.requests) == 1


def test_no_answer_within_the_timeout_is_said_plainly(fake, sleeps):
    fake.hang(1.0)
    message = refusal(gateway(fake, sleeps, timeout=0.2).find_service("checkout"))
    assert message == "PagerDuty did not answer in 0.2 s; try again."
    assert len(fake.requests) == 1 and sleeps == []


def test_a_refused_token_is_named_but_never_shown(fake, sleeps, caplog):
    token = "pd-wrong-token-9876"
    with caplog.at_level(logging.DEBUG):
        message = refusal(gateway(fake, sleeps, token=token).find_service("checkout"))
        assert not asyncio.run(gateway(fake, sleeps, token=token).healthy())
    assert message == "PagerDuty refused the API token (401); check PAGERDUTY_API_TOKEN."
    assert "9876" not in caplog.text and token not in caplog.text


def test_a_refused_request_says_what_pagerduty_said(fake, sleeps):
    unknown = Service("PNOPE", "Gone", "PEP0000")
    message = refusal(gateway(fake, sleeps).trigger(unknown, "title", KEY, ""))
    assert message == "PagerDuty answered 400 while paging: Invalid Input Provided; Service not found."


def test_oncalls_lists_each_level_with_name_email_schedule_and_end(fake, sleeps):
    oncalls = asyncio.run(gateway(fake, sleeps).oncalls("PEP0001"))
    assert [(o.level, o.user, o.email, o.schedule) for o in oncalls] == [
        (1, "Alice Archer", "alice@example.com", "Checkout primary"),
        (2, "Dan Dunn", "dan@example.com", ""),
    ]
    assert oncalls[0].until is not None and oncalls[1].until is None
    [request] = fake.requests
    assert request.query["escalation_policy_ids[]"] == ["PEP0001"] and request.query["earliest"] == ["true"]


def test_resolve_sends_from_and_writes_need_a_from_email(fake, sleeps):
    pd = gateway(fake, sleeps)
    opened = asyncio.run(pd.trigger(CHECKOUT, "title", KEY, ""))
    asyncio.run(pd.resolve(opened.id))
    assert fake.incidents[opened.id]["status"] == "resolved"
    fake.requests.clear()
    anonymous = gateway(fake, sleeps, from_email=None)
    assert not anonymous.can_write and "PAGERDUTY_FROM_EMAIL" in refusal(anonymous.resolve(opened.id))
    assert fake.requests == [] and asyncio.run(pd.healthy())


def test_resolving_an_incident_resolved_in_pagerduty_first_is_not_a_failure(fake, sleeps):
    pd = gateway(fake, sleeps)
    opened = asyncio.run(pd.trigger(CHECKOUT, "title", KEY, ""))
    assert opened.number == 1
    assert asyncio.run(pd.resolve(opened.id)) is True
    fake.requests.clear()
    assert asyncio.run(pd.resolve(opened.id)) is False  # someone resolved it there meanwhile
    assert [(r.method, r.path) for r in fake.requests] == [
        ("PUT", f"/incidents/{opened.id}"),
        ("GET", f"/incidents/{opened.id}"),
    ]


def test_the_fake_refuses_what_pagerduty_refuses_on_an_update(fake, sleeps):
    opened = asyncio.run(gateway(fake, sleeps).trigger(CHECKOUT, "title", KEY, ""))
    headers = {
        "authorization": f"Token token={fake.token}",
        "accept": "application/vnd.pagerduty+json;version=2",
        "from": "warroom@example.com",
    }
    url = f"{fake.base_url}/incidents/{opened.id}"
    for body, reason in (
        ({"type": "incident_reference", "status": "resolved", "colour": "red"}, "Unknown field(s): colour."),
        ({"status": "resolved"}, "Body must be"),
        ({"type": "incident_reference", "status": "closed"}, "status must be acknowledged or resolved."),
    ):
        answer = httpx.put(url, json={"incident": body}, headers=headers)
        assert answer.status_code == 400 and reason in answer.json()["error"]["errors"][0]
    resolve = {"incident": {"type": "incident_reference", "status": "resolved"}}
    assert httpx.put(url, json=resolve, headers={**headers, "from": ""}).status_code == 400
    assert httpx.put(url, json=resolve, headers=headers).status_code == 200
    again = httpx.put(url, json=resolve, headers=headers)
    assert again.status_code == 400 and again.json()["error"]["errors"] == ["Incident Already Resolved"]
    assert httpx.get(f"{fake.base_url}/incidents/QNOPE", headers=headers).status_code == 404


HEADERS = {
    "authorization": "Token token=pd-test-token",
    "accept": "application/vnd.pagerduty+json;version=2",
    "from": "warroom@example.com",
}


def create(fake, service_id: str, key: str = KEY) -> httpx.Response:
    incident = {"type": "incident", "title": "t", "incident_key": key}
    incident["service"] = {"id": service_id, "type": "service_reference"}
    return httpx.post(f"{fake.base_url}/incidents", json={"incident": incident}, headers=HEADERS)


def test_the_fake_refuses_a_second_open_incident_under_one_key_on_a_service_as_pagerduty_does(fake):
    refused = json.loads((DATA / "duplicate_incident_key.json").read_text())
    first = create(fake, "PSVC001", "warroom-INC-1-PSVC001")
    again = create(fake, "PSVC001", "warroom-INC-1-PSVC001")
    assert first.status_code == 201
    assert (again.status_code, again.json()) == (refused["status"], refused["body"])
    assert create(fake, "PSVC002", "warroom-INC-1-PSVC001").status_code == 201  # another service
    url = f"{fake.base_url}/incidents/{first.json()['incident']['id']}"
    resolve = {"incident": {"type": "incident_reference", "status": "resolved"}}
    assert httpx.put(url, json=resolve, headers=HEADERS).status_code == 200
    assert create(fake, "PSVC001", "warroom-INC-1-PSVC001").status_code == 201  # the key is free again


def test_a_retried_page_finds_the_incident_it_opened_before_writing_even_once_resolved(fake, sleeps):
    pd = gateway(fake, sleeps)
    opened = asyncio.run(pd.trigger(CHECKOUT, "title", KEY, ""))
    asyncio.run(pd.resolve(opened.id))
    fake.requests.clear()
    assert asyncio.run(pd.trigger(CHECKOUT, "title", KEY, "", look_first=True)) == opened
    assert [(r.method, r.query.get("service_ids[]")) for r in fake.requests] == [("GET", ["PSVC001"])]


def test_a_retried_resolve_asks_first_and_writes_nothing_to_a_resolved_incident(fake, sleeps):
    pd = gateway(fake, sleeps)
    opened = asyncio.run(pd.trigger(CHECKOUT, "title", KEY, ""))
    asyncio.run(pd.resolve(opened.id))
    fake.requests.clear()
    assert asyncio.run(pd.resolve(opened.id, check_first=True)) is False
    assert [r.method for r in fake.requests] == ["GET"]


def test_plain_http_is_refused_except_to_the_simulator_on_loopback():
    with pytest.raises(PagerDutyError, match="PAGERDUTY_API_URL must start with https://"):
        PagerDutyGateway("token", "http://pagerduty.example.com", None)
