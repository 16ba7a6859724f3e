"""PagerDuty webhook v3 deliveries in their full shape (tests/data/pagerduty), with what a test changes."""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx

from bot.http.signing import pagerduty_signature
from bot.simulator.pagerduty import FakePagerDuty

SAMPLES = Path(__file__).parent / "data" / "pagerduty"
WEB = "https://acme.pagerduty.com"


@cache
def _sample(kind: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{kind}.json").read_text(encoding="utf-8"))


def pd_event(
    kind: str = "incident.triggered",
    *,
    pd_id: str | None = None,
    number: int | None = None,
    key: str | None = None,
    title: str | None = None,
    service: str | None = None,
    urgency: str | None = None,
    agent: str | None = None,
    priority: str | None = None,
    at: str | None = None,
) -> dict[str, Any]:
    """PagerDuty's sample delivery of `kind`, with the given fields changed."""
    body = copy.deepcopy(_sample(kind))
    event, data = body["event"], body["event"]["data"]
    if pd_id is not None:
        data.update(id=pd_id, self=f"https://api.pagerduty.com/incidents/{pd_id}")
        data["html_url"] = f"{WEB}/incidents/{pd_id}"
    changes = {"number": number, "incident_key": key, "title": title, "urgency": urgency}
    data.update({name: value for name, value in changes.items() if value is not None})
    if service is not None:
        data["service"]["summary"] = service
    if agent is not None and event["agent"] is not None:
        event["agent"]["summary"] = agent
    if priority is not None:
        sample = _sample("incident.priority_updated")["event"]["data"]["priority"]
        data["priority"] = sample | {"summary": priority}
    if at is not None:
        event["occurred_at"] = at
    return body


def pd_body(kind: str = "incident.triggered", **changes: Any) -> bytes:
    """`pd_event` as the bytes PagerDuty signs and sends."""
    return json.dumps(pd_event(kind, **changes)).encode()


def pd_settings(pd: FakePagerDuty) -> dict[str, Any]:
    """The settings that point Warroom's REST calls at the fake."""
    return {
        "pagerduty_api_token": pd.token,
        "pagerduty_api_url": pd.base_url,
        "pagerduty_from_email": "warroom@example.com",
    }


def send_delivery(url: str, body: bytes, delivery: str, secret: str) -> int:
    """POST one webhook delivery to Warroom at `url` signed as PagerDuty signs it; the status."""
    headers = {
        "content-type": "application/json",
        "x-pagerduty-signature": pagerduty_signature(secret, body),
        "x-webhook-id": delivery,
        "user-agent": "PagerDuty-Webhook/V3.0",
    }
    return httpx.post(f"{url}/pagerduty/webhook", content=body, headers=headers).status_code
