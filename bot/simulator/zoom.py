"""A strict fake of Zoom's Server-to-Server OAuth and the Meetings API (create, list) on 127.0.0.1,
for Warroom's per-incident call. Its tokens die after `expires_in` on a clock tests move; it refuses
what Zoom refuses in Zoom's words (wrong client, grant or account; a missing, unknown or expired token;
a body that is not JSON; a topic over 200 characters, an agenda over 2,000, an unknown type), has no
idempotency key, lists only scheduled meetings, pages with an expiring `next_page_token` and fails on
demand (`fail(status=429)`: Zoom's daily rate-limit answer). Facts and sources: `zoom.json`."""

from __future__ import annotations

import base64
import copy
import json
import secrets
import string
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.http.runner import ServerThread

FACTS: dict[str, Any] = json.loads(Path(__file__).with_name("zoom.json").read_text(encoding="utf-8"))
OAUTH: dict[str, Any] = FACTS["oauth"]
API: dict[str, Any] = FACTS["api"]
MEETINGS: dict[str, Any] = FACTS["meetings"]
LISTING: dict[str, Any] = MEETINGS["list"]
HOST: dict[str, str] = FACTS["defaults"]["host"]
SETTINGS: dict[str, Any] = MEETINGS["settings_defaults"]
ENUMS: dict[str, list[Any]] = MEETINGS["settings_enums"]
CREATE_DEFAULTS: dict[str, Any] = MEETINGS["create_defaults"] | {"timezone": HOST["timezone"]}
TYPES = {int(kind) for kind in MEETINGS["types"]}
LIST_QUERY = {"type", "page_size", "next_page_token"}
ZOOM_TIME, LOCAL_TIME = "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S"
ALNUM = string.ascii_letters + string.digits
Page = tuple[str, int, datetime | None]


@dataclass(frozen=True)
class ZoomRequest:
    """One request the fake received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    json: Any  # the parsed JSON body, None when absent or not JSON
    form: dict[str, str] | None  # the url-encoded body, None when there is none
    authorized: bool  # token endpoint: the right Basic credentials; API: a live bearer token


class Refusal(Exception):
    """Answer `status` with exactly `body`."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status, body)
        self.status, self.body = status, body


class FakeZoom:
    """Zoom for one account with one Server-to-Server app and one user, the host of every meeting."""

    def __init__(self, *, web_url: str | None = None) -> None:
        # made at run time: credential-shaped literals in the repository would trip secret scanning
        self.account_id, self.client_id = secrets.token_urlsafe(16)[:22], secrets.token_urlsafe(16)[:22]
        self.client_secret = _text(32)
        self.expires_in: int = OAUTH["token"]["expires_in"]
        self.requests: list[ZoomRequest] = []
        self._lock = threading.Lock()
        route = Route("/{path:path}", self._answer, methods=["GET", "POST"])
        self.server = ServerThread(Starlette(routes=[route]), lifespan="off", name="zoom")
        # one server plays https://zoom.us (tokens), https://api.zoom.us (/v2) and the join-link host
        self.oauth_url: str = self.server.url
        self.api_url: str = self.server.url
        self.web_url: str = web_url or self.server.url
        self.reset()

    def start(self) -> None:
        """Serve."""
        self.server.start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.stop()

    def reset(self) -> None:
        """Back to the start: the same credentials, but no tokens, meetings, requests or failures."""
        with self._lock:
            self.requests.clear()
            self._meetings: list[dict[str, Any]] = []
            self._tokens: dict[str, datetime] = {}  # access token -> when it expires
            self._pages: dict[str, Page] = {}  # next_page_token -> the type listed, offset, expiry
            self._failures: list[int] = []
            self._offset = timedelta()

    def meetings(self) -> list[dict[str, Any]]:
        """Copies of the meetings made, oldest first, as create answered them."""
        with self._lock:
            return copy.deepcopy(self._meetings)

    def fail(self, times: int = 1, status: int = 503) -> None:
        """Answer the next `times` requests with `status` (429: Zoom's daily rate-limit answer)."""
        with self._lock:
            self._failures += [status] * times

    def now(self) -> datetime:
        """The fake's clock: real time, moved on by `advance`."""
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        """Move the clock on: tokens, page tokens and meetings age."""
        with self._lock:
            self._offset += timedelta(seconds=seconds)

    def expire_tokens(self) -> None:
        """Let `expires_in` seconds pass, so every token issued so far has expired."""
        self.advance(self.expires_in)

    async def _answer(self, request: Request) -> Response:
        raw, headers = await request.body(), dict(request.headers)
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        form = None
        if kind == "application/x-www-form-urlencoded":
            form = {key: values[-1] for key, values in parse_qs(raw.decode("latin-1")).items()}
        query = {key: request.query_params.getlist(key) for key in request.query_params}
        path = "/" + request.path_params["path"]
        with self._lock:
            authorized = self._basic_ok(headers) if path == OAUTH["path"] else self._bearer(headers) == "ok"
            body = _json(raw) if kind == "application/json" else None
            call = ZoomRequest(request.method, path, query, headers, body, form, authorized)
            self.requests.append(call)
            failed = self._failures.pop(0) if self._failures else 0
            try:
                if failed == API["rate_limited"]["status"]:
                    raise _refusal(API["rate_limited"])
                if failed:
                    raise Refusal(failed, {"code": failed, "message": HTTPStatus(failed).phrase})
                status, data = self._route(call)
            except Refusal as refusal:
                return JSONResponse(refusal.body, status_code=refusal.status)
        return JSONResponse(data, status_code=status)

    def _route(self, call: ZoomRequest) -> tuple[int, dict[str, Any]]:
        if call.path == OAUTH["path"] and call.method == OAUTH["method"]:
            return 200, self._issue(call)
        parts = call.path.strip("/").split("/")
        if len(parts) == 4 and (parts[0], parts[1], parts[3]) == ("v2", "users", "meetings"):
            if (state := self._bearer(call.headers)) != "ok":
                raise Refusal(API["unauthorized"]["status"], dict(API["unauthorized"][state]))
            if parts[2] not in ("me", HOST["id"], HOST["email"]):
                raise _refusal(API["no_user"], userId=parts[2])
            return (201, self._create(call.json)) if call.method == "POST" else (200, self._list(call.query))
        raise _refusal(API["not_found"])

    def _basic_ok(self, headers: dict[str, str]) -> bool:
        scheme, _, encoded = headers.get("authorization", "").partition(" ")
        expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode()).decode()
        return scheme.lower() == "basic" and secrets.compare_digest(encoded.strip(), expected)

    def _bearer(self, headers: dict[str, str]) -> str:
        """'ok', 'invalid' or 'expired', for the request's bearer token."""
        scheme, _, token = headers.get("authorization", "").partition(" ")
        expiry = self._tokens.get(token.strip()) if scheme.lower() == "bearer" else None
        if expiry is None:
            return "invalid"
        return "ok" if self.now() < expiry else "expired"

    def _issue(self, call: ZoomRequest) -> dict[str, Any]:
        refusals = OAUTH["refusals"]
        if not call.authorized:
            raise _refusal(refusals["bad_client"])
        params = {key: values[-1] for key, values in call.query.items()} | (call.form or {})
        if params.get("grant_type") != OAUTH["params"]["grant_type"]:
            raise _refusal(refusals["bad_grant"])
        if params.get("account_id") != self.account_id:
            raise _refusal(refusals["bad_account"])
        issued, expiry = self.now(), self.now() + timedelta(seconds=self.expires_in)
        claims = {"iss": f"zm:cid:{self.client_id}", "aid": self.account_id, "uid": HOST["id"]}
        token = _jwt(claims | {"iat": int(issued.timestamp()), "exp": int(expiry.timestamp())})
        self._tokens[token] = expiry
        facts = OAUTH["token"]
        answer = {"access_token": token, "token_type": facts["token_type"], "expires_in": self.expires_in}
        return answer | {"scope": facts["scope"], "api_url": self.api_url}

    def _create(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _refusal(API["not_json"])
        _check_meeting(body)
        meeting_id, now, secret = self._new_id(), self.now(), _text(32)
        given = {k: default if body.get(k) is None else body[k] for k, default in CREATE_DEFAULTS.items()}
        start = _start(body["start_time"], ZoneInfo(given["timezone"])) if body.get("start_time") else now
        settings = SETTINGS | {k: value for k, value in (body.get("settings") or {}).items() if k in SETTINGS}
        settings["join_before_host"] &= not settings["waiting_room"]  # Zoom: a waiting room disables it
        digits, zak = str(secrets.randbelow(10**6)).zfill(6), _jwt({"sub": HOST["id"], "mn": meeting_id})
        meeting = {"uuid": base64.b64encode(secrets.token_bytes(16)).decode(), "id": meeting_id}
        meeting |= {"host_id": HOST["id"], "host_email": HOST["email"], **given, "status": MEETINGS["status"]}
        meeting |= {"start_time": (start or now).strftime(ZOOM_TIME), "created_at": now.strftime(ZOOM_TIME)}
        meeting |= {"start_url": f"{self.web_url}/s/{meeting_id}?zak={zak}"}
        meeting |= {"join_url": f"{self.web_url}/j/{meeting_id}?pwd={secret}", "password": _text(6)}
        meeting |= {"h323_password": digits, "pstn_password": digits, "encrypted_password": secret}
        meeting |= {"pre_schedule": False, "settings": settings}
        self._meetings.append(meeting)
        return copy.deepcopy(meeting)

    def _new_id(self) -> int:
        low = 10 ** (MEETINGS["id_digits"] - 1)
        taken = {meeting["id"] for meeting in self._meetings}
        while (meeting_id := low + secrets.randbelow(9 * low)) in taken:
            pass
        return int(meeting_id)

    def _list(self, query: dict[str, list[str]]) -> dict[str, Any]:
        one = {key: values[-1] for key, values in query.items()}
        kind, size = one.get("type", LISTING["default_type"]), one.get("page_size", "")
        size, token = size or str(LISTING["page_size"]["default"]), one.get("next_page_token", "")
        unknown: Page = ("", 0, None)  # a page token the fake never gave
        paged, offset, until = self._pages.get(token, unknown) if token else (kind, 0, None)
        bad = sorted(set(query) - LIST_QUERY) + ["type"] * (kind not in LISTING["types"])
        bad += ["page_size"] * (not size.isdigit() or not 1 <= int(size) <= LISTING["page_size"]["max"])
        bad += ["next_page_token"] * (paged != kind or (until is not None and until < self.now()))
        if bad:
            raise _invalid(*bad)
        limit = int(size)
        listed = sorted(self._meetings, key=lambda meeting: str(meeting["start_time"]))
        found = [m for m in listed if m["type"] != 1 and self._listed_as(m, kind)]  # never instant ones
        following = _text(32) if offset + limit < len(found) else ""
        if following:
            ttl = timedelta(seconds=LISTING["next_page_token_ttl"])
            self._pages[following] = (kind, offset + limit, self.now() + ttl)
        items = [_item(meeting) for meeting in found[offset : offset + limit]]
        page = {"page_size": limit, "total_records": len(found), "next_page_token": following}
        return page | {"meetings": items}

    def _listed_as(self, meeting: dict[str, Any], kind: str) -> bool:
        """Scheduled: all; live: none (nobody starts a meeting here); previous: ended; upcoming: not."""
        start = datetime.strptime(meeting["start_time"], ZOOM_TIME).replace(tzinfo=UTC)
        ended = meeting["type"] != 3 and start + timedelta(minutes=meeting["duration"]) < self.now()
        return {"scheduled": True, "live": False, "previous_meetings": ended}.get(kind, not ended)


CHECKS: dict[str, Callable[[Any], bool]] = {
    "topic": lambda value: isinstance(value, str) and len(value) <= MEETINGS["topic_max"],
    "type": lambda value: type(value) is int and value in TYPES,
    "start_time": lambda value: isinstance(value, str) and _start(value, UTC) is not None,
    "duration": lambda value: type(value) is int and value >= 0,
    "timezone": lambda value: _zone(value) is not None,
    "agenda": lambda value: isinstance(value, str) and len(value) <= MEETINGS["agenda_max"],
    "settings": lambda value: isinstance(value, dict),
}


def _check_meeting(body: dict[str, Any]) -> None:
    """Refuse a create request's body as Zoom's validation does, naming every bad field."""
    bad = [field for field, ok in CHECKS.items() if body.get(field) is not None and not ok(body[field])]
    settings = body["settings"] if isinstance(body.get("settings"), dict) else {}
    bad += [f"settings.{key}" for key, value in settings.items() if not _setting_ok(key, value)]
    if bad:
        raise _invalid(*bad)


def _setting_ok(key: str, value: Any) -> bool:
    if key in ENUMS:
        return value in ENUMS[key] and type(value) is not bool
    return type(value) is bool or not isinstance(SETTINGS.get(key), bool)  # the fake ignores the rest


def _start(value: str, zone: Any) -> datetime | None:
    """GMT when it ends in Z, else local to `zone`: Zoom's two formats."""
    try:
        if value.endswith("Z"):
            return datetime.strptime(value, ZOOM_TIME).replace(tzinfo=UTC)
        return datetime.strptime(value, LOCAL_TIME).replace(tzinfo=zone).astimezone(UTC)
    except ValueError:
        return None


def _zone(name: Any) -> ZoneInfo | None:
    try:
        return ZoneInfo(name) if isinstance(name, str) and name else None
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return None


def _item(meeting: dict[str, Any]) -> dict[str, Any]:
    item = {field: meeting[field] for field in LISTING["item_fields"]}
    item["agenda"] = item["agenda"][: MEETINGS["list_agenda_max"]]  # Zoom truncates agendas in lists
    return item


def _refusal(fact: dict[str, Any], **fill: str) -> Refusal:
    body = dict(fact["body"])
    if fill:
        body["message"] = body["message"].format(**fill)
    return Refusal(fact["status"], body)


def _invalid(*fields: str) -> Refusal:
    facts = API["validation"]
    errors = [{"field": field, "message": facts["field_message"]} for field in fields]
    return Refusal(facts["status"], {"code": facts["code"], "message": facts["message"], "errors": errors})


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw.strip() else None
    except ValueError:
        return None


def _jwt(claims: dict[str, Any]) -> str:
    """Three base64url parts like Zoom's tokens; the third is random bytes, not a signature."""
    header = {"alg": "HS512", "v": "2.0", "kid": secrets.token_hex(16)}
    parts = [json.dumps(part, separators=(",", ":")).encode() for part in (header, claims)]
    parts.append(secrets.token_bytes(64))
    return ".".join(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in parts)


def _text(length: int) -> str:
    return "".join(secrets.choice(ALNUM) for _ in range(length))
