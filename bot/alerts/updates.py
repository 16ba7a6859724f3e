"""What later webhooks change: a PagerDuty incident's alert status and the war room that follows
the incident (acknowledged, resolved, reopened, no longer acknowledged, a new priority), and
another source's resolved alert."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, select

from bot.alerts.links import STATUS_AFTER, Linked, follow, linked
from bot.alerts.paging import PAGE_KEY_PREFIX
from bot.alerts.sources import Signal
from bot.incidents.service import get_incident, record_event
from bot.text import escape_mrkdwn
from storage.models import Alert, AlertEvent, Incident, Page

CHANGES = tuple(STATUS_AFTER)  # incident.<change> events Warroom handles besides incident.triggered
_SOURCE_NAMES = {"pagerduty": "PagerDuty", "alertmanager": "Alertmanager", "grafana": "Grafana"}


@dataclass(frozen=True)
class Fix:
    """An automatic fix (a runbook action in auto mode) that fits an alert, and its record."""

    playbook: str
    action: str
    label: str
    successes: int  # successful automatic runs since its last failed one
    needed: int  # the runbook's trial_runs: then its alerts go quiet

    @property
    def proven(self) -> bool:
        """Whether it ran well often enough that people need not watch it."""
        return self.successes >= self.needed

    def line(self) -> str:
        """What the notice says about it (mrkdwn)."""
        if self.proven:
            return f":robot_face: Fixing automatically with *{escape_mrkdwn(self.label)}* (proven)."
        return (
            f":robot_face: Automatic fix on trial: watching *{escape_mrkdwn(self.label)}* "
            f"({self.successes} of {self.needed} successful runs so far)."
        )


FixFinder = Callable[[Session, Alert], "Fix | None"]  # the automatic fix that fits an alert, if any


@dataclass(frozen=True)
class Notice:
    """A low or info alert's notice: where, what (mrkdwn), the alert its buttons act on, and
    the automatic fix it runs."""

    channel: str
    text: str
    alert_id: int
    low: bool  # else info
    fix: Fix | None = None


@dataclass(frozen=True)
class Processed:
    """What Slack should show for one delivery."""

    alert: Alert | None = None
    opened: Incident | None = None  # a new incident to open a war room for
    page: str | None = None  # the PagerDuty service that new incident pages
    notice: Notice | None = None
    linked: Incident | None = None  # an incident whose war room hears about the change
    line: str = ""  # mrkdwn for that war room
    key: str = ""  # the idempotency key of what Slack shows (a notice, a room's line)


def apply_change(
    session: Session, key: str, data: dict[str, Any], change: str, agent: dict[str, Any], at: datetime
) -> Processed:
    """Record one of CHANGES to a PagerDuty incident; the war room following it hears of it once."""
    alert = None if key.startswith(PAGE_KEY_PREFIX) else _alert_changed(session, key, change, at)
    followed = follow(session, str(data.get("id") or ""), change, at)
    if followed is None:
        if key.startswith(PAGE_KEY_PREFIX):
            return _unlinked_page_changed(session, key, change, agent, at)
        return Processed(alert=alert)
    link, moved = followed
    if change in ("acknowledged", "resolved") and not moved:
        return Processed(alert=alert)  # already known, e.g. Warroom resolved it itself
    about = linked(session, link)
    incident = get_incident(session, link.incident_id)
    line, text = _wording(about, change, data, _who(agent))
    record_event(
        session,
        incident,
        f"{'page' if about.is_page else 'alert'}_{change}",
        at=at,
        text=text,
        data={"pd_incident": link.pd_incident_id, "alert": link.alert_id, "page": link.page_id},
    )
    return Processed(alert=alert, linked=incident, line=f":pager: {line}")


def resolve_signal(session: Session, signal: Signal) -> Processed:
    """An alert its source says is resolved; the war room it opened hears of it once. A
    resolution older than the alert's last firing is stale and changes nothing."""
    alert = session.exec(select(Alert).where(Alert.dedup_key == signal.key)).first()
    if alert is None or alert.status == "resolved" or signal.at < alert.last_seen_at:
        return Processed()
    alert.status, alert.resolved_at = "resolved", signal.at
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, kind="resolved", at=signal.at))
    incident = session.get(Incident, alert.incident_id) if alert.incident_id else None
    if incident is None or incident.closed_at is not None:
        return Processed(alert=alert)
    session.flush()
    firing = session.exec(
        select(func.count())
        .select_from(Alert)
        .where(Alert.incident_id == incident.id, Alert.status != "resolved")
    ).one()
    still = f"{firing} more still firing" if firing else f"every alert of {incident.ref} has resolved"
    text = f"{source_name(alert.source)}: {alert.title} resolved ({still})"
    record_event(session, incident, "alert_resolved", at=signal.at, text=text, data={"alert": alert.id})
    key = f"alert:{alert.id}:resolved:{signal.at.timestamp():.0f}"
    return Processed(alert=alert, linked=incident, line=f":white_check_mark: {escape_mrkdwn(text)}", key=key)


def source_name(source: str) -> str:
    """How people name an alert source (a generic webhook's source by its own name)."""
    return _SOURCE_NAMES.get(source, source)


def _alert_changed(session: Session, key: str, change: str, at: datetime) -> Alert | None:
    """The alert's own status and its event for the noise report."""
    alert = session.exec(select(Alert).where(Alert.dedup_key == key)).first()
    if alert is None:
        return None
    if change == "acknowledged" and alert.acknowledged_at is None:
        alert.acknowledged_at = at
    if change == "resolved":
        alert.resolved_at = at
    if change in ("acknowledged", "resolved"):
        alert.status = change
    elif change in ("reopened", "unacknowledged"):
        alert.status = "triggered"
    assert alert.id is not None
    session.add(AlertEvent(alert_id=alert.id, kind=change, at=at))
    return alert


def _unlinked_page_changed(
    session: Session, key: str, change: str, agent: dict[str, Any], at: datetime
) -> Processed:
    """A page PagerDuty answered about before Warroom recorded PagerDuty's answer to it."""
    page = session.exec(select(Page).where(Page.incident_key == key)).first()
    if page is None or change not in ("acknowledged", "resolved"):
        return Processed()
    incident = get_incident(session, page.incident_id)
    text = f"PagerDuty: the page of {page.service_name} was {change} by {_who(agent)}"
    record_event(session, incident, f"page_{change}", at=at, text=text, data={"page": page.id})
    return Processed(linked=incident, line=f":pager: {escape_mrkdwn(text)}")


def _wording(about: Linked, change: str, data: dict[str, Any], who: str) -> tuple[str, str]:
    """The room's line (mrkdwn, linked) and the timeline's text (plain) for one change."""
    if change in ("acknowledged", "resolved"):
        if about.is_page:
            text = f"PagerDuty: {about.about} was {change} by {who}"
        else:
            text = f"PagerDuty: {about.about} {change} by {who}"
        return escape_mrkdwn(text), text
    if change == "reopened":
        what = f"was reopened by {who}"
    elif change == "unacknowledged":
        what = "is no longer acknowledged" + (f" (by {who})" if who != "PagerDuty" else "")
    else:
        priority = str((data.get("priority") or {}).get("summary") or "")
        what = f"is now priority {priority}" if priority else "no longer has a priority"
        what += f" (set by {who})"
    line = f"{about.mention()} ({escape_mrkdwn(about.about)}) {escape_mrkdwn(what)}"
    return line, f"{about.name} ({about.about}) {what}"


def _who(agent: dict[str, Any]) -> str:
    return str(agent.get("summary") or "PagerDuty")
