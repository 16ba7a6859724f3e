"""PagerDuty REST API v2 calls Warroom makes: find a service, page its on-call, list who is on
call, resolve. The only module that imports `pagerduty`; its errors leave as sentences."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx2
import pagerduty

from bot.errors import WarroomError
from bot.text import escape_mrkdwn

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_WAIT = 5.0  # seconds per rate-limit wait: someone in Slack is waiting for the page
KNOWN_SHOWN = 5
LOOPBACK = ("127.0.0.1", "localhost", "::1")


class PagerDutyError(WarroomError):
    """PagerDuty refused or did not answer; the message says what happened, never the token."""


@dataclass(frozen=True)
class Service:
    """A PagerDuty service and the escalation policy that pages for it."""

    id: str
    name: str
    escalation_policy_id: str


@dataclass(frozen=True)
class PdIncident:
    """A PagerDuty incident Warroom opened (or found open under the same incident key)."""

    id: str
    html_url: str
    assignees: list[str]
    number: int | None = None


@dataclass(frozen=True)
class OnCall:
    """Who is on call at one level of an escalation policy, and until when (None: always)."""

    level: int
    user: str
    email: str
    schedule: str
    until: datetime | None


class _RateLimited(Exception):
    """A 429, raised from the response hook so the package's own 429 loop never runs."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"rate limited; wait {wait:g} s")
        self.wait = wait


class PagerDutyGateway:
    """One REST client for the process, called on a thread so the event loop never blocks.

    The package retries 429 without limit with `time.sleep` on a blind backoff and ignores
    `Retry-After`: its retry dict could bound the attempts but not the wait. So a 429 leaves it
    through a response hook and `_attempts` waits as PagerDuty asks, at most `max_attempts` tries.
    """

    def __init__(
        self,
        token: str,
        base_url: str,
        from_email: str | None,
        *,
        timeout: float = 10,
        max_attempts: int = 3,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url, transport = _base_and_transport(base_url)
        self._client = pagerduty.RestApiV2Client(
            token,
            default_from=from_email,
            base_url=url,
            event_hooks={"response": [_raise_on_429]},
            transport=transport,
        )
        self._client.timeout = timeout  # type: ignore[assignment]  # typed int; httpx2 takes any seconds
        # A timed-out write may have reached PagerDuty: answer the person instead of resending blind.
        self._client.max_network_attempts = 0
        self._from_email, self._timeout = from_email, timeout
        self._max_attempts, self._sleep = max(1, max_attempts), sleep

    @property
    def can_write(self) -> bool:
        """Whether pages can be sent: PagerDuty needs a user's email in `From` on writes."""
        return bool(self._from_email)

    async def find_service(self, name: str) -> Service:
        """The service called `name` (any case), or the only one whose name contains it."""
        found = await self._call(
            "finding the service", lambda: self._client.list_all("services", params={"query": name})
        )
        exact = [s for s in found if str(s["name"]).lower() == name.strip().lower()]
        if len(exact) == 1 or len(found) == 1:
            return _service((exact or found)[0])
        shown = f"'{escape_mrkdwn(name[:60])}'"
        if found:
            names = ", ".join(escape_mrkdwn(str(s["name"])) for s in found[:KNOWN_SHOWN])
            raise PagerDutyError(f"Several PagerDuty services match {shown}: {names}. Name one exactly.")
        known = await self._call(
            "listing services", lambda: self._client.rget("services", params={"limit": KNOWN_SHOWN})
        )
        names = ", ".join(escape_mrkdwn(str(s["name"])) for s in known) or "none"
        raise PagerDutyError(f"No PagerDuty service is named {shown}; known: {names}.")

    async def search_services(self, query: str, limit: int = 50) -> list[Service]:
        """Services whose name contains `query` (all of them for ""), first `limit`, one request."""
        params: dict[str, Any] = {"limit": limit, **({"query": query} if query else {})}
        found = await self._call("listing services", lambda: self._client.rget("services", params=params))
        return [_service(data) for data in found]

    async def service(self, service_id: str) -> Service:
        """The service with this PagerDuty id."""
        path = f"services/{quote(service_id, safe='')}"
        return _service(await self._call("looking up a service", lambda: self._client.rget(path)))

    async def trigger(
        self, service: Service, title: str, incident_key: str, details: str, *, look_first: bool = False
    ) -> PdIncident:
        """Open a high-urgency incident on `service` under `incident_key`, or find the one open
        under it: PagerDuty refuses a second open incident with the same key on a service, so a
        retry after a lost answer pages nobody twice. `look_first` (a retry) asks before writing,
        and also finds one resolved since."""
        self._require_from()
        incident = {
            "type": "incident",
            "title": title[:255],
            "service": {"id": service.id, "type": "service_reference"},
            "urgency": "high",
            "incident_key": incident_key,
            "body": {"type": "incident_body", "details": details},
        }

        def open_or_find() -> Any:
            if look_first and (found := self._with_key(service.id, incident_key, open_only=False)):
                return found
            try:
                return self._client.rpost("incidents", json=incident)
            except pagerduty.HttpError as exc:
                if exc.response is None or not _key_is_open(exc.response, incident_key):
                    raise
            found = self._with_key(service.id, incident_key, open_only=True)
            if found is None:
                raise PagerDutyError(f"PagerDuty says {incident_key} is open but cannot find it; try again.")
            return found

        return _pd_incident(await self._call("paging", open_or_find))

    def _with_key(self, service_id: str, incident_key: str, *, open_only: bool) -> dict[str, Any] | None:
        """The newest incident on the service under `incident_key` (an open one if `open_only`)."""
        params: dict[str, Any] = {"incident_key": incident_key, "service_ids": [service_id]}
        if open_only:
            params["statuses"] = ["triggered", "acknowledged"]
        found = self._client.list_all("incidents", params=params)
        return dict(found[-1]) if found else None

    async def oncalls(self, escalation_policy_id: str) -> list[OnCall]:
        """Who is on call now at each level of the policy, lowest level first."""
        params = {"escalation_policy_ids": [escalation_policy_id], "earliest": "true", "include": ["users"]}
        found = await self._call(
            "listing who is on call", lambda: self._client.list_all("oncalls", params=params)
        )
        return sorted((_oncall(entry) for entry in found), key=lambda o: o.level)

    async def resolve(self, pd_incident_id: str, *, check_first: bool = False) -> bool:
        """Resolve a PagerDuty incident; False when PagerDuty had it resolved already.
        `check_first` (a retry, which may have resolved it) asks its status before writing."""
        self._require_from()
        path = f"incidents/{quote(pd_incident_id, safe='')}"
        body = {"type": "incident_reference", "status": "resolved"}

        def resolve_or_check() -> bool:
            if check_first and self._client.rget(path).get("status") == "resolved":
                return False
            try:
                self._client.rput(path, json=body)
            except pagerduty.HttpError as exc:
                # PagerDuty refuses to resolve a resolved incident (its wording is not documented,
                # so its status is asked instead): someone resolved it there first
                if exc.response is None or exc.response.status_code != 400:
                    raise
                if self._client.rget(path).get("status") != "resolved":
                    raise
                return False
            return True

        return await self._call("resolving the incident", resolve_or_check)

    async def healthy(self) -> bool:
        """Whether PagerDuty answers and accepts the token (one try, no waiting)."""
        try:
            response = await asyncio.to_thread(self._client.get, "abilities")
        except (pagerduty.Error, _RateLimited):
            return False
        return bool(response.is_success)

    def _require_from(self) -> None:
        if not self._from_email:
            raise PagerDutyError(
                "PagerDuty needs PAGERDUTY_FROM_EMAIL (a PagerDuty user's email) "
                "before Warroom can page or resolve."
            )

    async def _call(self, doing: str, request: Callable[[], T]) -> T:
        """Run a blocking client call on a thread; its failures become `PagerDutyError`."""
        return await asyncio.to_thread(self._attempts, doing, request)

    def _attempts(self, doing: str, request: Callable[[], T]) -> T:
        for attempt in range(1, self._max_attempts + 1):
            try:
                return request()
            except _RateLimited as limited:
                log.warning("PagerDuty rate limited %s (attempt %d)", doing, attempt)
                if attempt < self._max_attempts:
                    self._sleep(limited.wait)
            except pagerduty.Error as exc:
                raise self._explain(doing, exc) from None
        raise PagerDutyError("PagerDuty is rate limiting us; try again in a minute.")

    def _explain(self, doing: str, exc: pagerduty.Error) -> PagerDutyError:
        """A sentence for the person; the package's own message may carry part of the token."""
        response = exc.response
        if response is None:
            if isinstance(exc.__cause__, httpx2.TimeoutException):
                return PagerDutyError(f"PagerDuty did not answer in {self._timeout:g} s; try again.")
            return PagerDutyError("Could not reach PagerDuty; try again in a minute.")
        status, reason = response.status_code, _reason(response)
        log.warning("PagerDuty answered %s while %s: %s", status, doing, reason)
        if status == 401:
            return PagerDutyError("PagerDuty refused the API token (401); check PAGERDUTY_API_TOKEN.")
        if status == 403:
            return PagerDutyError(f"PagerDuty does not let this API token do that (403 while {doing}).")
        if status >= 500:
            return PagerDutyError(f"PagerDuty had an error ({status}) while {doing}; try again in a minute.")
        return PagerDutyError(
            f"PagerDuty answered {status} while {doing}: {escape_mrkdwn(reason.rstrip('.'))}."
        )


class _LoopbackHttp(httpx2.HTTPTransport):
    """Sends the package's https requests as plain http to a fake on loopback."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send `request` over plain http."""
        request.url = request.url.copy_with(scheme="http")
        return super().handle_request(request)


def _base_and_transport(base_url: str) -> tuple[str, httpx2.BaseTransport | None]:
    """The package accepts only https base URLs; the simulator (tests, the demo) serves plain
    http on loopback, so such a URL is given as https and sent as http."""
    url = httpx2.URL(base_url)
    if url.scheme == "https":
        return base_url, None
    if url.scheme == "http" and url.host in LOOPBACK:
        return str(url.copy_with(scheme="https")).rstrip("/"), _LoopbackHttp()
    raise PagerDutyError("PAGERDUTY_API_URL must start with https:// (plain http only to 127.0.0.1).")


def _raise_on_429(response: httpx2.Response) -> None:
    if response.status_code == 429:
        raise _RateLimited(_wait(response.headers))


def _wait(headers: Mapping[str, str]) -> float:
    """Seconds PagerDuty asks for (`Retry-After`, else `ratelimit-reset`), capped at MAX_WAIT."""
    for name in ("retry-after", "ratelimit-reset"):
        try:
            return min(max(float(headers[name]), 0.0), MAX_WAIT)
        except (KeyError, ValueError):
            continue
    return 1.0


def _reason(response: httpx2.Response) -> str:
    """PagerDuty's own words from an error body: the message and its details."""
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase
    error = (body.get("error") if isinstance(body, dict) else None) or {}
    details = [str(e) for e in error.get("errors") or []]
    return "; ".join([str(error.get("message") or response.reason_phrase), *details])[:300]


def _key_is_open(response: httpx2.Response, incident_key: str) -> bool:
    """PagerDuty's 400 for a repeated open `incident_key` names the key."""
    return response.status_code == 400 and incident_key in _reason(response)


def _service(data: dict[str, Any]) -> Service:
    policy = data.get("escalation_policy") or {}
    return Service(str(data["id"]), str(data["name"]), str(policy.get("id") or ""))


def _pd_incident(data: dict[str, Any]) -> PdIncident:
    assignees = [str((a.get("assignee") or {}).get("summary") or "") for a in data.get("assignments") or []]
    number = data.get("incident_number")
    return PdIncident(
        str(data["id"]),
        str(data.get("html_url") or ""),
        [a for a in assignees if a],
        number if isinstance(number, int) else None,
    )


def _oncall(data: dict[str, Any]) -> OnCall:
    user, schedule = data.get("user") or {}, data.get("schedule") or {}
    end = data.get("end")
    return OnCall(
        level=int(data.get("escalation_level") or 0),
        user=str(user.get("name") or user.get("summary") or "someone"),
        email=str(user.get("email") or ""),
        schedule=str(schedule.get("summary") or ""),
        until=datetime.fromisoformat(str(end).replace("Z", "+00:00")) if end else None,
    )
