"""The console's pages: the incident list, one incident's record and timeline, its postmortem
draft to download, the reports with their charts, and the runbooks. Every page and download
asks `Access` who is reading and shows a private incident only to its members and admins (to
anyone else it does not exist)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable, Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlencode

from markupsafe import Markup
from sqlmodel import Session
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from bot import clock
from bot.adapters.slack import SlackCallFailed
from bot.alerts.report import alert_report
from bot.api.queries import IncidentFilter, incident_by_number, list_incidents, timeline_page
from bot.api.record import change_mark, incident_record, runbook_usage
from bot.deps import Deps
from bot.http.console.auth import Access, Viewer, csrf_token
from bot.http.console.render import mentioned, templates, zone_of
from bot.incidents.errors import IncidentNotFound
from bot.playbooks.loader import load_playbooks
from bot.postmortem.draft import build_draft
from bot.postmortem.render import draft_json, draft_markdown
from bot.postmortem.report import incident_report
from bot.views import charts
from storage.models import Incident
from storage.session import run_in_session

Handler = Callable[[Request], Awaitable[Response]]
INCIDENTS_PER_PAGE = 25
EVENTS_PER_PAGE = 100
TABS = {  # tab → (status, drill)
    "open": ("open", False),
    "closed": ("closed", False),
    "drills": (None, True),
    "all": (None, None),
}
STATUSES = ("investigating", "identified", "monitoring", "resolved", "closed")
REPORT_WEEKS = 12
REF = re.compile(r"^(?:INC-)?([0-9]{1,9})$", re.IGNORECASE)


def _int(value: str | None, low: int, high: int) -> int | None:
    if value is None or not value.isdigit():
        return None
    number = int(value)
    return number if low <= number <= high else None


class Pages:
    """Everything behind the console's routes but sign-in itself."""

    def __init__(self, deps: Deps, access: Access) -> None:
        self._deps = deps
        self._access = access
        self.templates = templates()

    def page(
        self, request: Request, name: str, viewer: Viewer | None, status: int = 200, **context: Any
    ) -> Response:
        """A template rendered for `viewer`, with what every page needs."""
        context |= {
            "viewer": viewer,
            "zone": zone_of(viewer.zone if viewer else None),
            "csrf": csrf_token(request) if viewer else "",
            "path": request.url.path,
        }
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def signed_in(self, handler: Callable[[Request, Viewer], Awaitable[Response]]) -> Handler:
        """`handler` for signed-in people; anyone else is sent to sign in and brought back."""

        async def guarded(request: Request) -> Response:
            viewer = self._access.viewer(request)
            if viewer is None:
                if self._access.client is None:
                    return self.page(request, "setup.html", None, status=503, title="Set up the console")
                back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/?next={quote(back, safe='')}", status_code=303)
            return await handler(request, viewer)

        return guarded

    async def names(self, ids: Iterable[str]) -> dict[str, str]:
        """Display names for the people on a page (Slack's, cached by the gateway); an id stays
        an id when Slack does not answer."""
        wanted = sorted({i for i in ids if i})

        async def one(user_id: str) -> str:
            try:
                return await self._deps.slack.display_name(user_id)
            except SlackCallFailed:
                return user_id

        return dict(zip(wanted, await asyncio.gather(*(one(i) for i in wanted)), strict=True))

    def _not_found(self, request: Request, viewer: Viewer, what: str) -> Response:
        return self.page(request, "error.html", viewer, status=404, title="Not found", message=what)

    async def incidents(self, request: Request, viewer: Viewer) -> Response:
        """The incident list: a tab (open, closed, drills, all), filters, newest first, in pages."""
        query = request.query_params
        tab = str(query.get("tab")) if query.get("tab") in TABS else "open"
        status, drill = TABS[tab]
        if query.get("status") in STATUSES:
            status = query["status"]
        where = IncidentFilter(
            status=status,
            severity=_int(query.get("severity"), 1, 4),
            service=(query.get("service") or "").strip()[:200] or None,
            text=(query.get("q") or "").strip()[:200] or None,
            drill=drill,
        )
        before = _int(query.get("before"), 1, 10**9)
        reader = await self._access.reader(viewer)
        page = await run_in_session(
            list_incidents, where, reader=reader, limit=INCIDENTS_PER_PAGE, before=before
        )
        names = await self.names(i.commander_id for i in page.items)
        return self.page(
            request,
            "incidents.html",
            viewer,
            title="Incidents",
            tab=tab,
            tabs=list(TABS),
            statuses=STATUSES,
            where=where,
            incidents=page.items,
            names=names,
            next_page=_with(request, before=page.after) if page.after else None,
            first_page=_with(request, before=None) if before else None,
        )

    async def find(self, request: Request, viewer: Viewer) -> Incident | None:
        """The incident the path names, if `viewer` may see it."""
        match = REF.match(request.path_params["ref"])
        if match is None:
            return None
        reader = await self._access.reader(viewer)
        try:
            return await run_in_session(incident_by_number, int(match.group(1)), reader=reader)
        except IncidentNotFound:
            return None

    async def incident(self, request: Request, viewer: Viewer) -> Response:
        """One incident: header, roles, history, runs, alerts, follow-ups, the timeline (a page of
        it, filtered by kind) and the postmortem draft."""
        incident = await self.find(request, viewer)
        if incident is None:
            ref = request.path_params["ref"]
            return self._not_found(request, viewer, f"There is no incident {ref} you can see.")
        assert incident.id is not None
        kind = (request.query_params.get("kind") or "")[:40] or None
        after = _int(request.query_params.get("after"), 1, 2**62)
        now = clock.now()

        def read(session: Session) -> tuple[Any, Any, Any, str]:
            record = incident_record(session, incident)
            events = timeline_page(session, incident.id or 0, kind=kind, limit=EVENTS_PER_PAGE, after=after)
            draft = build_draft(session, incident.id or 0, now=now, timeline=False)  # the page shows it
            return record, events, draft, change_mark(session, incident.id or 0)

        record, events, draft, mark = await run_in_session(read)
        people = [
            incident.commander_id,
            incident.declared_by,
            *(r.user_id for r in record.roles),
            *(r.assigned_by for r in record.roles),
            *(e.actor_id or "" for e in events.items),
            *(e.actor_id or "" for e in record.changes),
            *(run.run.requested_by for run in record.runs),
            *(v.voter_id for run in record.runs for v in run.votes),
            *(a.actor_id or "" for run in record.runs for a in run.audit),
            *(f.owner_id or "" for f in record.followups),
            *mentioned([*(e.text for e in events.items), *(e.text for e in record.changes)]),
        ]
        names = await self.names(people)
        return self.page(
            request,
            "incident.html",
            viewer,
            title=f"{incident.ref} {incident.title}",
            incident=incident,
            record=record,
            events=events.items,
            kind=kind,
            names=names,
            draft=draft_markdown(draft, names, timeline=False),
            mark=mark,
            live=incident.closed_at is None,
            slack_channel=_channel_link(self._deps, incident),
            next_events=_with(request, after=events.after) if events.after else None,
            first_events=_with(request, after=None) if after else None,
        )

    async def postmortem(self, request: Request, viewer: Viewer) -> Response:
        """The postmortem draft as a Markdown or JSON download."""
        incident = await self.find(request, viewer)
        fmt = request.path_params["fmt"]
        if incident is None or fmt not in ("md", "json"):
            return PlainTextResponse("No such incident or format.", status_code=404)
        names = await self.names([incident.commander_id, incident.declared_by])
        now = clock.now()

        def render(session: Session) -> str:
            draft = build_draft(session, incident.id or 0, now=now)
            return draft_json(draft) if fmt == "json" else draft_markdown(draft, names)

        body = await run_in_session(render)
        media = "application/json" if fmt == "json" else "text/markdown; charset=utf-8"
        filename = f"{incident.ref}-postmortem.{fmt}"
        return Response(
            body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{filename}"'}
        )

    async def reports(self, request: Request, viewer: Viewer) -> Response:
        """The incidents, alerts and remediation reports over the last weeks, each chart with its
        numbers beside it: the same figures as `warroom report`."""
        weeks = _int(request.query_params.get("weeks"), 1, 52) or REPORT_WEEKS
        now = clock.now()
        since = clock.week_of(now) - timedelta(weeks=weeks - 1)
        zone = self._deps.settings.warroom_oncall_timezone

        def read(session: Session) -> tuple[dict[str, Any], dict[str, Any]]:
            return incident_report(session, since, now), alert_report(session, since, now, zone)

        incidents, alerts = await run_in_session(read)
        sections = {
            "Incidents": charts.incident_charts(incidents),
            "Alerts": charts.alert_charts(alerts),
            "Remediation": charts.remediation_charts(incidents),
        }
        drawn = await asyncio.to_thread(
            lambda: {name: [(c, Markup(charts.svg(c))) for c in made] for name, made in sections.items()}
        )
        return self.page(
            request,
            "reports.html",
            viewer,
            title="Reports",
            weeks=weeks,
            since=since,
            incidents=incidents,
            alerts=alerts,
            sections=drawn,
        )

    async def runbooks(self, request: Request, viewer: Viewer) -> Response:
        """Every runbook: what it matches, its actions, when it was last used, how its runs went,
        and any file that does not load."""
        directory = self._deps.settings.warroom_playbooks_dir
        playbooks, problems = await asyncio.to_thread(load_playbooks, directory)
        usage = await run_in_session(runbook_usage)
        return self.page(
            request,
            "runbooks.html",
            viewer,
            title="Runbooks",
            playbooks=playbooks,
            problems=problems,
            usage=usage,
            loaded=set(self._deps.catalog.playbooks),
        )


def _channel_link(deps: Deps, incident: Incident) -> str | None:
    identity = deps.slack.state.identity
    if not incident.channel_id or identity is None:
        return None
    return f"https://app.slack.com/client/{identity.team_id}/{incident.channel_id}"


def _with(request: Request, **changes: int | None) -> str:
    """This page's URL with some query parameters changed (None drops one)."""
    params = dict(request.query_params)
    for key, value in changes.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = str(value)
    query = urlencode(params)
    return request.url.path + (f"?{query}" if query else "")
