"""Zoom meetings through a Server-to-Server OAuth app: an access token for the account
(`grant_type=account_credentials`, kept until shortly before it expires), a scheduled meeting
per incident, and a look through the account's meetings for one an interrupted try made (Zoom
has no idempotency key; the meeting's topic names the incident). Only the join link leaves this
module: the host's start link is a credential."""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx

from bot.adapters.trackers import TrackerFailed

TIMEOUT_SECONDS = 10
EARLY_SECONDS = 60  # a token is renewed this long before Zoom says it expires
LOOKBACK_PAGES = 3


class ZoomFailed(TrackerFailed):
    """Zoom refused or could not be reached; `transient` when trying later may work."""


class ZoomMeetings:
    """The meetings of one Zoom account."""

    def __init__(
        self, oauth_url: str, api_url: str, account_id: str, client_id: str, client_secret: str
    ) -> None:
        self._token_url = f"{oauth_url.rstrip('/')}/oauth/token"
        self._api = api_url.rstrip("/")
        self._account = account_id
        self._basic = base64.b64encode(f"{client_id}:{client_secret}".encode()).decode()
        self._token: tuple[float, str] | None = None

    async def create(self, topic: str, agenda: str) -> str:
        """A new meeting (each call makes one); its join link."""
        body = {
            "topic": topic[:200],
            "type": 2,  # scheduled, from now: it shows among the account's scheduled meetings
            "duration": 120,
            "agenda": agenda[:2000],
            "settings": {"join_before_host": True, "waiting_room": False},
        }
        meeting = await self._call("POST", "/v2/users/me/meetings", json=body)
        return str(meeting["join_url"])

    async def find(self, topic: str) -> str | None:
        """The join link of a scheduled meeting with this topic, if an earlier try made it."""
        token = ""
        for _ in range(LOOKBACK_PAGES):
            params = {"type": "scheduled", "page_size": 300, "next_page_token": token}
            page = await self._call("GET", "/v2/users/me/meetings", params=params)
            for meeting in page.get("meetings") or []:
                if meeting.get("topic") == topic[:200]:
                    return str(meeting["join_url"])
            token = str(page.get("next_page_token") or "")
            if not token:
                return None
        return None

    async def _access_token(self, client: httpx.AsyncClient) -> str:
        if self._token is not None and time.monotonic() < self._token[0]:
            return self._token[1]
        params = {"grant_type": "account_credentials", "account_id": self._account}
        response = await client.post(
            self._token_url, params=params, headers={"Authorization": f"Basic {self._basic}"}
        )
        if response.status_code != 200:
            raise ZoomFailed(
                f"Zoom refused the app's credentials ({_message(response)})",
                transient=response.status_code >= 500,
            )
        granted = response.json()
        self._token = (
            time.monotonic() + float(granted.get("expires_in", 3600)) - EARLY_SECONDS,
            str(granted["access_token"]),
        )
        return self._token[1]

    async def _call(self, method: str, path: str, **options: Any) -> Any:
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS, follow_redirects=False) as client:

                async def send() -> httpx.Response:
                    bearer = {"Authorization": f"Bearer {await self._access_token(client)}"}
                    return await client.request(method, self._api + path, headers=bearer, **options)

                response = await send()
                if response.status_code == 401:  # revoked or expired early: once more, with a fresh token
                    self._token = None
                    response = await send()
        except httpx.HTTPError as exc:
            reason = type(exc).__name__
            raise ZoomFailed(f"Zoom could not be reached ({reason})", transient=True) from None
        if response.status_code < 300:
            return response.json()
        transient = response.status_code >= 500 or response.status_code == 429
        raise ZoomFailed(f"Zoom answered {response.status_code}: {_message(response)}", transient=transient)


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no answer"
    return str(body.get("message") or body.get("reason") or body.get("error") or response.reason_phrase)
