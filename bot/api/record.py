"""An incident's whole record as the console shows it: roles and hand-overs, severity and status
history, runbooks posted, remediation runs with their votes and audit trail, linked alerts and
follow-ups. A handful of queries whatever the incident's size; the timeline itself is paged
(`queries.timeline_page`)."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from storage.models import (
    Alert,
    FollowUp,
    Incident,
    PostedRunbook,
    RemediationAudit,
    RemediationRun,
    RemediationVote,
    RoleAssignment,
    Ticket,
    TimelineEvent,
)

CHANGE_KINDS = ("severity_changed", "status_changed")


@dataclass(frozen=True)
class RunRecord:
    """A remediation run, who voted on it and every state it went through."""

    run: RemediationRun
    votes: list[RemediationVote]
    audit: list[RemediationAudit]

    @property
    def approvers(self) -> list[str]:
        """Who approved it, in the order they did."""
        return [vote.voter_id for vote in self.votes if vote.approve]


@dataclass(frozen=True)
class IncidentRecord:
    """Everything about one incident but its timeline."""

    incident: Incident
    roles: list[RoleAssignment]  # every assignment, oldest first (relieved ones are hand-overs)
    changes: list[TimelineEvent]  # severity and status changes, oldest first
    runbooks: list[PostedRunbook]
    runs: list[RunRecord]
    alerts: list[Alert]
    followups: list[FollowUp]
    tickets: dict[int, Ticket]  # by follow-up id: the ones filed in a tracker
    kinds: dict[str, int]  # the timeline's kinds and how many events of each
    events: int


def incident_record(session: Session, incident: Incident) -> IncidentRecord:
    """The record of `incident` (which the reader may see)."""
    assert incident.id is not None
    of = incident.id
    runs = list(
        session.exec(
            select(RemediationRun).where(RemediationRun.incident_id == of).order_by(col(RemediationRun.id))
        )
    )
    run_ids = [run.id for run in runs]
    votes: dict[int, list[RemediationVote]] = defaultdict(list)
    audit: dict[int, list[RemediationAudit]] = defaultdict(list)
    if run_ids:
        vote_rows = select(RemediationVote).where(col(RemediationVote.run_id).in_(run_ids))
        for vote in session.exec(vote_rows.order_by(col(RemediationVote.id))):
            votes[vote.run_id].append(vote)
        audit_rows = select(RemediationAudit).where(col(RemediationAudit.run_id).in_(run_ids))
        for row in session.exec(audit_rows.order_by(col(RemediationAudit.id))):
            audit[row.run_id].append(row)
    kinds = {
        str(kind): int(count)
        for kind, count in session.exec(
            select(TimelineEvent.kind, func.count())
            .where(TimelineEvent.incident_id == of)
            .group_by(col(TimelineEvent.kind))
            .order_by(col(TimelineEvent.kind))
        )
    }
    followups = list(
        session.exec(select(FollowUp).where(FollowUp.incident_id == of).order_by(col(FollowUp.id)))
    )
    return IncidentRecord(
        incident=incident,
        roles=list(
            session.exec(
                select(RoleAssignment)
                .where(RoleAssignment.incident_id == of)
                .order_by(col(RoleAssignment.id))
            )
        ),
        changes=list(
            session.exec(
                select(TimelineEvent)
                .where(TimelineEvent.incident_id == of, col(TimelineEvent.kind).in_(CHANGE_KINDS))
                .order_by(col(TimelineEvent.id))
            )
        ),
        runbooks=list(
            session.exec(
                select(PostedRunbook).where(PostedRunbook.incident_id == of).order_by(col(PostedRunbook.id))
            )
        ),
        runs=[RunRecord(run, votes[run.id or 0], audit[run.id or 0]) for run in runs],
        alerts=list(session.exec(select(Alert).where(Alert.incident_id == of).order_by(col(Alert.id)))),
        followups=followups,
        tickets={
            t.follow_up_id: t
            for t in session.exec(
                select(Ticket).where(col(Ticket.follow_up_id).in_([f.id for f in followups]))
            )
        },
        kinds=kinds,
        events=sum(kinds.values()),
    )


def change_mark(session: Session, incident_id: int) -> str:
    """A short token that changes whenever anything about the incident does (its newest timeline
    event or its state): a live page compares it with the one it was rendered with. The same on
    every replica."""
    newest = session.exec(
        select(func.max(TimelineEvent.id)).where(TimelineEvent.incident_id == incident_id)
    ).one()
    incident = session.get(Incident, incident_id)
    assert incident is not None
    state = f"{newest}:{incident.severity}:{incident.status}:{incident.commander_id}:{incident.closed_at}"
    return hashlib.sha256(state.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Usage:
    """How a runbook has been used."""

    posted: int = 0
    last_posted: datetime | None = None
    runs: int = 0
    succeeded: int = 0
    failed: int = 0  # failed, timed out or unknown
    last_run: datetime | None = None

    @property
    def success_rate(self) -> float | None:
        """Succeeded runs over finished ones, or None before any finished."""
        finished = self.succeeded + self.failed
        return self.succeeded / finished if finished else None


FAILED_STATES = ("failed", "timed_out", "unknown")


def runbook_usage(session: Session) -> dict[str, Usage]:
    """Every runbook that was ever posted or run, by id: two grouped queries."""
    posted = {
        str(playbook): (int(count), last)
        for playbook, count, last in session.exec(
            select(PostedRunbook.playbook_id, func.count(), func.max(PostedRunbook.posted_at)).group_by(
                col(PostedRunbook.playbook_id)
            )
        )
    }
    runs: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "succeeded": 0, "failed": 0, "last": None}
    )
    for playbook, state, count, last in session.exec(
        select(
            RemediationRun.playbook_id,
            RemediationRun.state,
            func.count(),
            func.max(RemediationRun.requested_at),
        ).group_by(col(RemediationRun.playbook_id), col(RemediationRun.state))
    ):
        row = runs[str(playbook)]
        row["runs"] += int(count)
        row["succeeded"] += int(count) if state == "succeeded" else 0
        row["failed"] += int(count) if state in FAILED_STATES else 0
        row["last"] = max(filter(None, (row["last"], last)), default=None)
    unused = {"runs": 0, "succeeded": 0, "failed": 0, "last": None}
    return {
        playbook: Usage(
            posted=posted.get(playbook, (0, None))[0],
            last_posted=posted.get(playbook, (0, None))[1],
            runs=runs.get(playbook, unused)["runs"],
            succeeded=runs.get(playbook, unused)["succeeded"],
            failed=runs.get(playbook, unused)["failed"],
            last_run=runs.get(playbook, unused)["last"],
        )
        for playbook in {*posted, *runs}
    }
