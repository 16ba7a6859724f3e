"""The postmortem draft's shape: one pydantic model, rendered as Markdown and as JSON."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel

NOT_GIVEN = "not given at close"


class SeverityChange(BaseModel):
    """The declared severity, or a change to it."""

    severity: str  # SEV1 … SEV4
    at: datetime
    by: str | None


class StatusChange(BaseModel):
    """The status from `at` (investigating at declaration; closed; investigating on reopen)."""

    status: str
    at: datetime
    by: str | None
    summary: str = ""


class Impact(BaseModel):
    """What people said about the impact when they closed the incident."""

    given: bool
    note: str = ""  # "not given at close" when there is no review
    customer_impact: str = ""
    users_affected: int | None = None
    impact_minutes: int | None = None
    lost_business: str = ""  # lost orders or revenue, as written
    root_cause: str = ""
    fix_kind: str = ""  # permanent | stopgap | none
    given_by: str | None = None
    given_at: datetime | None = None


class AlertSeen(BaseModel):
    """A PagerDuty alert linked to the incident."""

    title: str
    service_name: str
    urgency: str
    first_seen_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    count: int


class Detection(BaseModel):
    """How the incident was found; durations in seconds."""

    method: Literal["alert", "person"]
    summary: str
    first_alert: AlertSeen | None
    alert_fired: bool
    time_to_detect: int | None  # declaration − first alert, when the alert came first
    person_ahead_of_alert: int | None  # first alert − declaration, when a person came first
    in_their_words: str  # the review's answer, or "not given at close"


class PageSent(BaseModel):
    """A PagerDuty page Warroom sent for the incident."""

    service_name: str
    paged_by: str
    paged_at: datetime
    assignees: str


class Event(BaseModel):
    """One timeline entry."""

    at: datetime
    kind: str
    actor_id: str | None
    text: str
    author_id: str | None = None  # who wrote a message someone else added to the timeline


class RoleHeld(BaseModel):
    """One person holding one role from `assigned_at` until `relieved_at`."""

    role: str
    user_id: str
    assigned_by: str
    assigned_at: datetime
    relieved_at: datetime | None


class Run(BaseModel):
    """A remediation run and who voted on it."""

    label: str
    playbook_id: str
    action_id: str
    target: str
    risk: str
    params: dict[str, Any]
    state: str
    requested_by: str
    approvers: list[str]
    rejecters: list[str]
    requested_at: datetime
    dispatched_at: datetime | None
    finished_at: datetime | None
    outcome: str
    automatic: bool
    dry_run: bool


class Metrics(BaseModel):
    """Moments and durations in seconds from `started_at`; None when never recorded."""

    started_at: datetime
    acknowledged_at: datetime | None
    mitigated_at: datetime | None
    resolved_at: datetime | None
    time_to_detect: int | None
    time_to_acknowledge: int | None
    time_to_mitigate: int | None
    time_to_resolve: int | None
    time_in_severity: dict[str, int]  # seconds per SEV label until resolved (else closed, else now)


class FollowUpItem(BaseModel):
    """An action item and whether it is done."""

    text: str
    owner_id: str | None
    due_on: date | None
    done: bool
    done_at: datetime | None
    ticket_url: str | None = None  # the tracker's issue, when it was filed as one
    ticket_state: str | None = None  # open | closed (as the tracker last said)


class Draft(BaseModel):
    """Everything in the postmortem of one incident; `model_dump_json()` is its JSON export."""

    ref: str
    number: int
    title: str
    summary: str
    severity: str
    worst_severity: str
    status: str
    private: bool
    drill_of: str | None  # the runbook a practice incident rehearsed
    channel_id: str | None  # the war room, if it was opened
    declared_by: str
    declared_at: datetime
    resolved_at: datetime | None
    closed_at: datetime | None
    severity_history: list[SeverityChange]
    status_history: list[StatusChange]
    impact: Impact
    detection: Detection
    alerts: list[AlertSeen]
    pages: list[PageSent]
    metrics: Metrics
    roles: list[RoleHeld]
    ic_handovers: int
    remediation: list[Run]
    timeline: list[Event]
    follow_ups: list[FollowUpItem]
    questions: list[str]
    generated_at: datetime

    def people(self) -> set[str]:
        """Every Slack user id the draft names, so a renderer can show their names."""
        found = {self.declared_by, self.impact.given_by, *(e.actor_id for e in self.timeline)}
        found |= {e.author_id for e in self.timeline}
        found |= {change.by for change in self.severity_history} | {
            change.by for change in self.status_history
        }
        found |= {who for role in self.roles for who in (role.user_id, role.assigned_by)}
        found |= {
            who for run in self.remediation for who in (run.requested_by, *run.approvers, *run.rejecters)
        }
        found |= {page.paged_by for page in self.pages} | {item.owner_id for item in self.follow_ups}
        return {who for who in found if who}
