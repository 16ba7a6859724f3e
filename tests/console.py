"""Warroom with its console turned on against the simulator's Sign in with Slack, and a browser-
less client that signs in as someone (cookies kept, redirects followed by hand)."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from sqlmodel import select

from bot.http.runner import free_port
from bot.simulator import SlackSimulator
from bot.simulator.harness import LocalWarroom, local_settings
from bot.simulator.signin import sign_in_as
from storage.models import Incident
from storage.session import session_scope
from tests.rooms import form, open_declare_modal

ADMIN = "U0DAVE"


def console_warroom(simulator: SlackSimulator, db: str, **overrides: Any) -> LocalWarroom:
    """Warroom serving its console at a fresh port, registered with the simulator's app."""
    base = f"http://127.0.0.1:{free_port()}"
    simulator.add_redirect_url(base + "/auth/callback")
    settings = local_settings(
        simulator,
        db,
        slack_client_id=simulator.client_id,
        slack_client_secret=simulator.client_secret,
        warroom_base_url=base,
        warroom_admins=[ADMIN],
        **overrides,
    )
    return LocalWarroom(simulator, settings)


class Browser:
    """One person's cookie jar on the console."""

    def __init__(self, warroom: LocalWarroom) -> None:
        self.base = warroom.server.url
        self.http = httpx.Client(base_url=self.base, follow_redirects=False)

    def sign_in(
        self, user_id: str, *, next_page: str = "/incidents", any_team: bool = False
    ) -> httpx.Response:
        """Start at the console, choose `user_id` on Slack's page (of any workspace when the
        console's team hint is dropped from its URL), come back; the callback's answer."""
        start = self.http.get("/signin", params={"next": next_page})
        assert start.status_code == 302, start.text
        authorize = start.headers["location"]
        if any_team:
            parts = urlsplit(authorize)
            query = [(k, v) for k, v in parse_qsl(parts.query) if k != "team"]
            authorize = urlunsplit(parts._replace(query=urlencode(query)))
        back = sign_in_as(authorize, user_id)
        assert back.startswith(self.base + "/auth/callback?"), back
        return self.http.get(back.removeprefix(self.base))

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params)

    def csrf(self) -> str:
        """The CSRF token the last incident list carried."""
        page = self.get("/incidents").text
        marker = 'name="csrf" value="'
        return page[page.index(marker) + len(marker) :].split('"', 1)[0]

    def close(self) -> None:
        self.http.close()


def declare(app: LocalWarroom, text: str = "declare sev2 Checkout returns 500s") -> Incident:
    """Declare with a signed `/incident` command as alice and wait for the war room."""
    app.command(text)
    app.settle()
    with session_scope() as session:
        newest = select(Incident).order_by(Incident.number.desc())  # type: ignore[attr-defined]
        return session.exec(newest).first()


def declare_private(app: LocalWarroom, title: str) -> Incident:
    """Declare a private SEV1 through the declare modal as alice."""
    view = open_declare_modal(app)
    app.person.view_submission(view, form(title, "sev1", private=True))
    app.settle()
    with session_scope() as session:
        return session.exec(select(Incident).where(Incident.title == title)).one()
