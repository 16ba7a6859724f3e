"""The tables the domain reads and writes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import JSON, Column, Index, MetaData, Table, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime

# Stable constraint names make Alembic batch migrations on SQLite reproducible.
SQLModel.metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class Incident(SQLModel, table=True):
    """One incident and its war room; numbers are unique and never reused."""

    __tablename__ = "incidents"

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True)
    title: str = Field(max_length=200)
    summary: str = Field(default="", sa_type=Text)
    severity: int
    status: str = Field(default="investigating", max_length=20)
    private: bool = False
    drill_of: str | None = Field(default=None, max_length=63)  # the runbook a practice incident rehearses
    channel_id: str | None = Field(default=None, max_length=32, unique=True)
    channel_name: str | None = Field(default=None, max_length=80)
    source_channel_id: str | None = Field(default=None, max_length=32)
    commander_id: str = Field(max_length=32)
    declared_by: str = Field(max_length=32)
    declared_at: datetime = Field(sa_type=UTCDateTime)
    identified_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    monitoring_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    card_ts: str | None = Field(default=None, max_length=32)
    broadcast_ts: str | None = Field(default=None, max_length=32)
    room_ready_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_url: str | None = Field(default=None, max_length=500)
    last_update_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reminder_snoozed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archive_noticed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    archived_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    call_url: str | None = Field(default=None, max_length=500)  # the meeting made for it (Zoom)

    @property
    def ref(self) -> str:
        """The name people use: INC-<number>."""
        return f"INC-{self.number}"


class RoleAssignment(SQLModel, table=True):
    """A person holding a role in an incident; `relieved_at` is set when they hand it over."""

    __tablename__ = "role_assignments"
    __table_args__ = (Index("ix_role_assignments_current", "incident_id", "role", "relieved_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    role: str = Field(max_length=20)
    user_id: str = Field(max_length=32)
    assigned_by: str = Field(max_length=32)
    assigned_at: datetime = Field(sa_type=UTCDateTime)
    relieved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class TimelineEvent(SQLModel, table=True):
    """An append-only fact on an incident's timeline."""

    __tablename__ = "timeline_events"
    __table_args__ = (Index("ix_timeline_events_incident_at", "incident_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(max_length=40)
    actor_id: str | None = Field(default=None, max_length=32)
    text: str = Field(default="", sa_type=Text)
    data: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class ProcessedRequest(SQLModel, table=True):
    """An idempotency key seen once: a Slack trigger, view, event or webhook delivery."""

    __tablename__ = "processed_requests"
    __table_args__ = (UniqueConstraint("key", name="uq_processed_requests_key"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=255)
    kind: str = Field(max_length=40)
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", ondelete="SET NULL")
    seen_at: datetime = Field(sa_type=UTCDateTime)


class PostedRunbook(SQLModel, table=True):
    """A runbook shown in an incident's war room; claimed before posting so it shows once."""

    __tablename__ = "posted_runbooks"
    __table_args__ = (
        UniqueConstraint("incident_id", "playbook_id", name="uq_posted_runbooks_incident_playbook"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    playbook_id: str = Field(max_length=63)
    reasons: str = Field(default="", max_length=500)
    posted_at: datetime = Field(sa_type=UTCDateTime)


class RemediationRun(SQLModel, table=True):
    """One request to run a runbook action; its `state` only moves by compare-and-set."""

    __tablename__ = "remediation_runs"
    __table_args__ = (
        UniqueConstraint("request_key", name="uq_remediation_runs_request_key"),
        Index("ix_remediation_runs_alert_id", "alert_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", ondelete="CASCADE")
    alert_id: int | None = Field(
        default=None, foreign_key="alerts.id", ondelete="CASCADE"
    )  # a fix on an alert
    trial: bool = False  # an automatic fix run while it was still on trial (people watched it)
    request_key: str = Field(max_length=255)
    playbook_id: str = Field(max_length=63)
    action_id: str = Field(max_length=63)
    label: str = Field(max_length=75)
    target: str = Field(max_length=200)
    risk: str = Field(max_length=10)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    binding: str = Field(max_length=64)
    state: str = Field(max_length=20)
    required_approvals: int = 0
    requested_by: str = Field(max_length=32)
    automatic: bool = False
    dry_run: bool = False
    requested_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    dispatched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", sa_type=Text)
    excerpt: str = Field(default="", sa_type=Text)
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)


class RemediationVote(SQLModel, table=True):
    """One person's approval or rejection of a run; one vote each."""

    __tablename__ = "remediation_votes"
    __table_args__ = (UniqueConstraint("run_id", "voter_id", name="uq_remediation_votes_run_voter"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="remediation_runs.id", ondelete="CASCADE")
    voter_id: str = Field(max_length=32)
    approve: bool
    at: datetime = Field(sa_type=UTCDateTime)


class RemediationAudit(SQLModel, table=True):
    """An append-only record of every state change of a run, written in the same transaction."""

    __tablename__ = "remediation_audit"

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="remediation_runs.id", ondelete="CASCADE")
    at: datetime = Field(sa_type=UTCDateTime)
    from_state: str = Field(max_length=20)
    to_state: str = Field(max_length=20)
    actor_id: str | None = Field(default=None, max_length=32)
    detail: str = Field(default="", sa_type=Text)


class KillSwitch(SQLModel, table=True):
    """Append-only kill-switch changes: scope "*" is every action, "playbook/action" one of them;
    the newest row of a scope is its state, the rows before it are the audit."""

    __tablename__ = "kill_switches"
    __table_args__ = (Index("ix_kill_switches_scope", "scope", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str = Field(max_length=130)
    engaged: bool
    changed_by: str = Field(max_length=32)
    changed_at: datetime = Field(sa_type=UTCDateTime)
    reason: str = Field(default="", max_length=200)


class WebhookDelivery(SQLModel, table=True):
    """An alert webhook delivery, stored before it is answered: PagerDuty's under its unique
    `X-Webhook-Id`, another source's as the signals read from it, under its body's digest."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("delivery_id", name="uq_webhook_deliveries_delivery_id"),
        Index("ix_webhook_deliveries_unprocessed", "processed_at", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: str = Field(max_length=255)
    body: str = Field(sa_type=Text)
    received_at: datetime = Field(sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    outcome: str = Field(default="", max_length=200)


class Alert(SQLModel, table=True):
    """One alert from any source (repeats collapse into it with a count) and how it was triaged."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("dedup_key", name="uq_alerts_dedup_key"),
        Index("ix_alerts_group_key", "group_key"),
    )

    id: int | None = Field(default=None, primary_key=True)
    dedup_key: str = Field(max_length=255)
    source: str = Field(default="pagerduty", max_length=40)
    name: str = Field(default="", max_length=200)  # the alert rule's name (Alertmanager's alertname)
    severity: str = Field(default="", max_length=50)
    labels: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    group_key: str = Field(default="", max_length=255)  # the notification group it came in
    pd_incident_id: str = Field(default="", max_length=64)
    service_id: str = Field(default="", max_length=64)
    service_name: str = Field(default="", max_length=200)
    title: str = Field(default="", max_length=1024)
    urgency: str = Field(default="", max_length=20)
    priority: str = Field(default="", max_length=50)
    status: str = Field(default="triggered", max_length=20)
    count: int = 1
    triage: str = Field(default="", max_length=10)
    rule: str = Field(default="", max_length=100)
    incident_id: int | None = Field(default=None, foreign_key="incidents.id", ondelete="SET NULL")
    first_seen_at: datetime = Field(sa_type=UTCDateTime)
    last_seen_at: datetime = Field(sa_type=UTCDateTime)
    acknowledged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    raw: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


class TriageOverride(SQLModel, table=True):
    """A triage rule someone made from Slack (*Mark as noise*, *Downgrade*, *Route to*): it
    comes before the YAML rules until it expires or is reverted; the row is its audit."""

    __tablename__ = "triage_overrides"
    __table_args__ = (Index("ix_triage_overrides_active", "reverted_at", "expires_at"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int | None = Field(default=None, foreign_key="alerts.id", ondelete="SET NULL")
    action: str = Field(max_length=20)  # noise | downgrade | route
    match: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    about: str = Field(max_length=300)  # what it matches, in words
    channel: str | None = Field(default=None, max_length=20)
    reason: str = Field(max_length=500)
    created_by: str = Field(max_length=20)
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    reverted_by: str | None = Field(default=None, max_length=20)
    reverted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    applied: int = 0  # alerts it has decided


class AlertEvent(SQLModel, table=True):
    """Each trigger, acknowledgement and resolution of an alert, for the noise report."""

    __tablename__ = "alert_events"
    __table_args__ = (Index("ix_alert_events_alert_at", "alert_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    alert_id: int = Field(foreign_key="alerts.id", ondelete="CASCADE")
    kind: str = Field(max_length=20)
    at: datetime = Field(sa_type=UTCDateTime)
    paged: bool = False


class Page(SQLModel, table=True):
    """A PagerDuty incident Warroom opened to page someone; `incident_key` makes a retry a no-op."""

    __tablename__ = "pages"
    __table_args__ = (UniqueConstraint("incident_key", name="uq_pages_incident_key"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    incident_key: str = Field(max_length=255)
    service_id: str = Field(max_length=64)
    service_name: str = Field(max_length=200)
    pd_incident_id: str | None = Field(default=None, max_length=64)
    paged_by: str = Field(max_length=32)
    paged_at: datetime = Field(sa_type=UTCDateTime)
    assignees: str = Field(default="", max_length=1000)


class PagerDutyLink(SQLModel, table=True):
    """A PagerDuty incident a war room follows: the alert's that opened it, a re-trigger of that
    alert while the room is open, or a page Warroom sent. `status` follows PagerDuty's webhooks
    and Warroom's own resolves, so resolving the room resolves only what is still open."""

    __tablename__ = "pagerduty_links"
    __table_args__ = (
        UniqueConstraint("pd_incident_id", name="uq_pagerduty_links_pd_incident_id"),
        Index("ix_pagerduty_links_incident", "incident_id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    pd_incident_id: str = Field(max_length=64)
    number: int | None = None  # PagerDuty's incident number, as people say it: #4211
    html_url: str = Field(default="", max_length=500)
    status: str = Field(default="triggered", max_length=20)  # triggered | acknowledged | resolved
    alert_id: int | None = Field(default=None, foreign_key="alerts.id", ondelete="SET NULL")
    page_id: int | None = Field(default=None, foreign_key="pages.id", ondelete="SET NULL")
    linked_at: datetime = Field(sa_type=UTCDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PostmortemReview(SQLModel, table=True):
    """What only people know, given when the incident was last closed, and the draft posted then."""

    __tablename__ = "postmortem_reviews"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE", unique=True)
    customer_impact: str = Field(sa_type=Text)
    detection: str = Field(sa_type=Text)
    users_affected: int | None = None
    impact_minutes: int | None = None
    lost_business: str = Field(default="", max_length=200)  # lost orders or revenue, as written
    root_cause: str = Field(sa_type=Text)
    fix_kind: str = Field(max_length=20)  # permanent | stopgap | none
    given_by: str = Field(max_length=32)
    given_at: datetime = Field(sa_type=UTCDateTime)
    draft_ts: str | None = Field(default=None, max_length=32)
    draft_link: str | None = Field(default=None, max_length=500)
    drafted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class FollowUp(SQLModel, table=True):
    """An action item from an incident; `request_key` makes a repeated request a no-op."""

    __tablename__ = "follow_ups"
    __table_args__ = (
        UniqueConstraint("request_key", name="uq_follow_ups_request_key"),
        Index("ix_follow_ups_incident", "incident_id"),
        Index("ix_follow_ups_open_due", "done_at", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incidents.id", ondelete="CASCADE")
    request_key: str = Field(max_length=255)
    text: str = Field(sa_type=Text)
    owner_id: str | None = Field(default=None, max_length=32)
    due_on: date | None = None
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(sa_type=UTCDateTime)
    done_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    done_by: str | None = Field(default=None, max_length=32)
    reminded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class Job(SQLModel, table=True):
    """One piece of work done after the ack: durable, leased to one process at a time, retried
    with backoff, ending `done` or `failed`. `key` makes recording the same work twice a no-op."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("key", name="uq_jobs_key"),
        Index("ix_jobs_due", "state", "run_after"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=63)
    key: str = Field(max_length=255)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    tell: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))  # who hears of a failure
    state: str = Field(default="queued", max_length=10)  # queued | running | done | failed
    attempts: int = 0
    run_after: datetime = Field(sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token for the HTTP API: only its SHA-256 is kept; revoked tokens stay listed."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        UniqueConstraint("name", name="uq_api_tokens_name"),
        UniqueConstraint("token_hash", name="uq_api_tokens_hash"),
    )

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63)
    scope: str = Field(max_length=10)  # read | write (write can read too)
    private: bool = False  # may see private incidents
    token_hash: str = Field(max_length=64)
    created_at: datetime = Field(sa_type=UTCDateTime)
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class ApiRequest(SQLModel, table=True):
    """A write through the API, under its client's Idempotency-Key: what it answered, replayed
    to a retry; also the audit of who changed what through the API."""

    __tablename__ = "api_requests"
    __table_args__ = (UniqueConstraint("token_id", "idempotency_key", name="uq_api_requests_key"),)

    id: int | None = Field(default=None, primary_key=True)
    token_id: int = Field(foreign_key="api_tokens.id", ondelete="CASCADE")
    idempotency_key: str = Field(max_length=255)
    method: str = Field(max_length=10)
    path: str = Field(max_length=300)
    fingerprint: str = Field(max_length=64)  # of the request body: the same key with another body is refused
    status: int
    response: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    at: datetime = Field(sa_type=UTCDateTime)


class WebhookEndpoint(SQLModel, table=True):
    """How far one outgoing-webhook endpoint has got through the timeline, in order: the last
    event delivered (or given up on), the current event's failed attempts, and which process
    is sending to it now (a lease, like a job's)."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (UniqueConstraint("name", name="uq_webhook_endpoints_name"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=63)
    cursor: int = 0  # timeline_events.id of the last event done with
    attempts: int = 0
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookSend(SQLModel, table=True):
    """One attempt to deliver an event to an endpoint: the delivery log."""

    __tablename__ = "webhook_sends"
    __table_args__ = (Index("ix_webhook_sends_endpoint", "endpoint", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    endpoint: str = Field(max_length=63)
    event_id: int
    message_id: str = Field(max_length=100)
    type: str = Field(max_length=63)
    attempt: int
    status: int | None = None  # the HTTP status, if one came back
    outcome: str = Field(max_length=20)  # delivered | failed | gave_up
    detail: str = Field(default="", sa_type=Text)
    duration_ms: int = 0
    at: datetime = Field(sa_type=UTCDateTime)


class Ticket(SQLModel, table=True):
    """A follow-up tracked as an issue in a tracker (GitHub): one per follow-up. `marker` is
    written into the issue so that a retry after a crash finds it instead of filing a second."""

    __tablename__ = "tickets"
    __table_args__ = (
        UniqueConstraint("follow_up_id", name="uq_tickets_follow_up_id"),
        UniqueConstraint("marker", name="uq_tickets_marker"),
        Index("ix_tickets_tracker_ref", "tracker", "ref"),
    )

    id: int | None = Field(default=None, primary_key=True)
    follow_up_id: int = Field(foreign_key="follow_ups.id", ondelete="CASCADE")
    tracker: str = Field(max_length=20)  # github
    project: str = Field(max_length=200)  # owner/repository
    marker: str = Field(max_length=64)
    ref: str | None = Field(default=None, max_length=64)  # the issue number, once created
    url: str | None = Field(default=None, max_length=500)
    status: str = Field(default="requested", max_length=20)  # requested | open | closed
    attempts: int = 0  # tries that found the tracker down
    last_error: str = Field(default="", max_length=500)
    requested_by: str = Field(max_length=32)
    requested_at: datetime = Field(sa_type=UTCDateTime)
    created_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


def table(model: type[SQLModel]) -> Table:
    """The Core table behind a model, for single statements on hot paths."""
    return cast(Table, model.__table__)  # type: ignore[attr-defined]
