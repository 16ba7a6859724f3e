"""Paging PagerDuty from an incident: who may, a page claimed once before PagerDuty is called,
PagerDuty's answer on the timeline, and the services an incident touches."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.alerts.links import link_pd_incident
from bot.errors import WarroomError
from bot.incidents.changes import Context, authorise, find_incident
from bot.incidents.permissions import Action
from bot.incidents.rules import Severity
from bot.incidents.service import get_incident, record_event
from bot.text import escape_mrkdwn
from storage.errors import is_unique_violation
from storage.models import Alert, Incident, Page, PagerDutyLink, table


class PagedService(Protocol):
    """A PagerDuty service, as the adapter describes it."""

    @property
    def id(self) -> str: ...

    @property
    def name(self) -> str: ...


class OpenedIncident(Protocol):
    """What PagerDuty answered to a page."""

    @property
    def id(self) -> str: ...

    @property
    def html_url(self) -> str: ...

    @property
    def number(self) -> int | None: ...

    @property
    def assignees(self) -> list[str]: ...


PAGE_KEY_PREFIX = "warroom-INC-"


def page_key(incident: Incident, service_id: str) -> str:
    """The PagerDuty `incident_key` of a page: stable, so a retry never pages twice."""
    return f"{PAGE_KEY_PREFIX}{incident.number}-{service_id}"


def page_text(incident: Incident, message: str) -> tuple[str, str]:
    """The title and details the person paged reads in PagerDuty."""
    title = f"{incident.ref} {Severity(incident.severity).label}: {incident.title}"
    room = f"War room: #{incident.channel_name}" if incident.channel_name else ""
    return title, "\n\n".join(
        part for part in (message, incident.summary, room, "Paged from Warroom") if part
    )


def incident_to_page(session: Session, number: int | None, channel_id: str, ctx: Context) -> Incident:
    """The incident a command names, if `ctx.actor` may page for it (asked before PagerDuty is)."""
    incident = find_incident(session, number=number, channel_id=channel_id)
    _may_page(session, incident, ctx)
    return incident


def _may_page(session: Session, incident: Incident, ctx: Context) -> None:
    """Raise unless `ctx.actor` may page for the incident now; nobody is woken for a drill."""
    authorise(session, incident, Action.PAGE, ctx)
    if incident.drill_of is not None:
        raise WarroomError(f"{incident.ref} is a drill: Warroom pages nobody for a drill.")


def claim_page(session: Session, incident_id: int, service: PagedService, ctx: Context) -> Page | None:
    """Reserve this incident's page of `service` before PagerDuty is called; None when it was paged.

    A page claimed but never recorded (PagerDuty failed, or the process stopped) is handed out
    again: sending it under the same key cannot page twice.
    """
    incident = get_incident(session, incident_id)
    _may_page(session, incident, ctx)
    key = page_key(incident, service.id)
    page = Page(
        incident_id=incident_id,
        incident_key=key,
        service_id=service.id,
        service_name=service.name[:200],
        paged_by=ctx.actor.user_id,
        paged_at=ctx.at,
    )
    try:
        with session.begin_nested():
            session.add(page)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        existing = existing_page(session, incident_id, service.id)
        return None if existing.pd_incident_id else existing
    return page


def existing_page(session: Session, incident_id: int, service_id: str) -> Page:
    """The page of `service_id` claimed for this incident."""
    page = find_page(session, incident_id, service_id)
    assert page is not None, "claimed before"
    return page


def find_page(session: Session, incident_id: int, service_id: str) -> Page | None:
    """This incident's page of `service_id`, if one was claimed."""
    key = page_key(get_incident(session, incident_id), service_id)
    return session.exec(select(Page).where(Page.incident_key == key)).first()


def page_line(session: Session, page_id: int, message: str) -> str:
    """What the war room is told of a recorded page (mrkdwn): who paged whom, with its link."""
    page = session.get(Page, page_id)
    assert page is not None
    link = session.exec(select(PagerDutyLink).where(PagerDutyLink.page_id == page_id)).first()
    who = escape_mrkdwn(page.assignees) or "nobody is assigned yet"
    url = link.html_url if link is not None else ""
    shown = f" (<{url}|PagerDuty {page.pd_incident_id}>)" if url else ""
    text = f"<@{page.paged_by}> paged the on-call of {escape_mrkdwn(page.service_name)}: {who}{shown}"
    return text + (f"\n>{escape_mrkdwn(message)}" if message else "")


def record_page(session: Session, page_id: int, pd_incident: OpenedIncident, at: datetime) -> Page | None:
    """Keep PagerDuty's answer, have the war room follow the PagerDuty incident and put the page on
    the timeline; None when a concurrent request for the same page recorded it first."""
    pages = table(Page)
    recorded = session.execute(
        update(pages)
        .where(pages.c.id == page_id, pages.c.pd_incident_id.is_(None))
        .values(
            pd_incident_id=pd_incident.id[:64], assignees=", ".join(pd_incident.assignees)[:1000], paged_at=at
        )
    )
    if not recorded.rowcount:  # type: ignore[attr-defined]
        return None
    page = session.get(Page, page_id)
    assert page is not None
    opened = {"id": pd_incident.id, "number": pd_incident.number, "html_url": pd_incident.html_url}
    link_pd_incident(session, page.incident_id, opened, at=at, page_id=page_id)
    record_event(
        session,
        get_incident(session, page.incident_id),
        "paged",
        at=at,
        actor_id=page.paged_by,
        text=f"Paged the on-call of {page.service_name}: {page.assignees or 'nobody assigned yet'}",
        data={"service": page.service_id, "pd_incident": pd_incident.id, "url": pd_incident.html_url},
    )
    return page


def services_of(session: Session, incident_id: int) -> list[tuple[str, str]]:
    """The PagerDuty services (id, name) an incident touches: paged, or alerting into it."""
    alerted = session.exec(
        select(Alert.service_id, Alert.service_name).where(
            Alert.incident_id == incident_id, Alert.service_id != ""
        )
    ).all()
    paged = session.exec(
        select(Page.service_id, Page.service_name).where(Page.incident_id == incident_id)
    ).all()
    services = {service_id: name for service_id, name in [*alerted, *paged]}
    return sorted(services.items(), key=lambda service: service[1].lower())
