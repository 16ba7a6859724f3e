"""The PagerDuty incidents a war room follows, and how they are named in it.

A war room can stand for several PagerDuty incidents: the alert's that opened it, each re-trigger
of that alert while the room is open (PagerDuty opens a new incident under the same
`incident_key` once the old one is resolved), and every page Warroom sent. Each is one row,
unique by PagerDuty's id, whose status follows the webhooks; resolving the room resolves the rows
still open, once each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.incidents.service import get_incident, record_event
from bot.text import escape_mrkdwn
from storage.errors import insert_new
from storage.models import Alert, Page, PagerDutyLink, table

# the status each webhook leaves a PagerDuty incident in (None: its status does not change)
STATUS_AFTER = {
    "acknowledged": "acknowledged",
    "resolved": "resolved",
    "reopened": "triggered",
    "unacknowledged": "triggered",
    "priority_updated": None,
}
URL_MAX = 500


@dataclass(frozen=True)
class Linked:
    """A linked PagerDuty incident as the room names it."""

    pd_incident_id: str
    name: str  # "PagerDuty incident #4211"
    about: str  # the alert's title, or "the page of Orders DB"
    url: str
    is_page: bool = False

    def mention(self) -> str:
        """Its name in mrkdwn, linked to PagerDuty when the address is safe to link."""
        return f"<{self.url}|{self.name}>" if self.url else self.name


def safe_url(value: Any) -> str:
    """An http(s) address that cannot break out of a Slack link; "" for anything else."""
    url = str(value or "")
    if not url.startswith(("https://", "http://")) or len(url) > URL_MAX:
        return ""
    if any(ch in url for ch in "<>|\"' \t\r\n"):
        return ""
    return url


def number_of(data: dict[str, Any]) -> int | None:
    """PagerDuty's incident number from a webhook's `data` (`number`) or a REST answer
    (`incident_number`)."""
    number = data.get("number", data.get("incident_number"))
    return number if isinstance(number, int) and not isinstance(number, bool) else None


def link_pd_incident(
    session: Session,
    incident_id: int,
    data: dict[str, Any],
    *,
    at: datetime,
    alert_id: int | None = None,
    page_id: int | None = None,
) -> PagerDutyLink | None:
    """Have the war room follow the PagerDuty incident `data` describes; None when it was already
    followed (by this room or another) or names no incident."""
    pd_incident_id = str(data.get("id") or "")[:64]
    if not pd_incident_id:
        return None
    links = table(PagerDutyLink)
    row = {
        "incident_id": incident_id,
        "pd_incident_id": pd_incident_id,
        "number": number_of(data),
        "html_url": safe_url(data.get("html_url")),
        "status": data.get("status") if data.get("status") in ("acknowledged", "resolved") else "triggered",
        "alert_id": alert_id,
        "page_id": page_id,
        "linked_at": at,
        "resolved_at": at if data.get("status") == "resolved" else None,
    }
    statement = insert_new(session, links, "pd_incident_id").returning(links.c.id)
    inserted = session.execute(statement, [row]).scalar()
    return session.get(PagerDutyLink, inserted) if inserted is not None else None


def follow(
    session: Session, pd_incident_id: str, change: str, at: datetime
) -> tuple[PagerDutyLink, bool] | None:
    """Apply a webhook's `change` to the linked PagerDuty incident; the link and whether its status
    moved, or None when no war room follows that incident."""
    link = session.exec(select(PagerDutyLink).where(PagerDutyLink.pd_incident_id == pd_incident_id)).first()
    if link is None:
        return None
    status = STATUS_AFTER.get(change)
    moved = status is not None and link.status != status
    if moved:
        link.status = str(status)
        link.resolved_at = at if status == "resolved" else None
    return link, moved


def linked(session: Session, link: PagerDutyLink) -> Linked:
    """How the room names `link`: its number, what it is about, its address."""
    about = "a PagerDuty incident"
    page = session.get(Page, link.page_id) if link.page_id is not None else None
    if page is not None:
        about = f"the page of {page.service_name}"
    elif link.alert_id is not None and (alert := session.get(Alert, link.alert_id)) is not None:
        about = alert.title
    number = f"#{link.number}" if link.number is not None else link.pd_incident_id
    return Linked(link.pd_incident_id, f"PagerDuty incident {number}", about, link.html_url, page is not None)


def open_links(session: Session, incident_id: int) -> list[Linked]:
    """The PagerDuty incidents this war room follows that are not resolved, oldest first."""
    statement = (
        select(PagerDutyLink)
        .where(PagerDutyLink.incident_id == incident_id, PagerDutyLink.status != "resolved")
        .order_by(col(PagerDutyLink.id))
    )
    return [linked(session, link) for link in session.exec(statement).all()]


def opened_by(session: Session, incident_id: int) -> Linked | None:
    """The PagerDuty incident whose alert opened this war room, if an alert did."""
    statement = (
        select(PagerDutyLink)
        .where(PagerDutyLink.incident_id == incident_id, col(PagerDutyLink.alert_id).is_not(None))
        .order_by(col(PagerDutyLink.id))
        .limit(1)
    )
    link = session.exec(statement).first()
    return linked(session, link) if link is not None else None


def record_resolutions(
    session: Session,
    incident_id: int,
    resolved: list[Linked],
    already: list[Linked],
    failed: list[tuple[Linked, str]],
    at: datetime,
) -> str:
    """Mark what is now resolved in PagerDuty (by Warroom, or `already` by someone there) and put
    it on the timeline with what could not be resolved; the line for the room ("" for nothing)."""
    done = [*resolved, *already]
    if done:
        links = table(PagerDutyLink)
        session.execute(
            update(links)
            .where(links.c.pd_incident_id.in_([d.pd_incident_id for d in done]), links.c.status != "resolved")
            .values(status="resolved", resolved_at=at)
        )
    room, timeline = [], []
    for heading, group in (("Resolved in PagerDuty", resolved), ("Already resolved in PagerDuty", already)):
        if group:
            room.append(f"{heading}: " + ", ".join(_said(d, mrkdwn=True) for d in group) + ".")
            timeline.append(f"{heading}: " + ", ".join(_said(d) for d in group) + ".")
    for link, reason in failed:
        room.append(f"Could not resolve {_said(link, mrkdwn=True)}: {reason} Resolve it in PagerDuty.")
        timeline.append(f"Could not resolve {_said(link)}: {reason}")
    if not room:
        return ""
    record_event(
        session,
        get_incident(session, incident_id),
        "pagerduty_resolved",
        at=at,
        text=" ".join(timeline),
        data={"resolved": [d.pd_incident_id for d in done], "failed": [f.pd_incident_id for f, _ in failed]},
    )
    return "\n".join(room)


def _said(link: Linked, *, mrkdwn: bool = False) -> str:
    if mrkdwn:
        return f"{link.mention()} ({escape_mrkdwn(link.about)})"
    return f"{link.name} ({link.about})"
