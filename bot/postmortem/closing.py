"""Closing with a review: what only people know, asked for when the incident closes.

The answers are kept with the incident (the latest close wins) and the draft posted for that
close is recorded against them, so a close whose draft is missing can be found and posted.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlmodel import Session, col, select

from bot.incidents.changes import Context, Outcome, close_incident, incident_to_close
from bot.incidents.errors import InvalidInput
from bot.incidents.rules import Status, strip_invisible
from storage.models import Incident, PostmortemReview

IMPACT_MAX = 3000
DETECTION_MAX = 1000
ROOT_CAUSE_MAX = 3000
LOST_BUSINESS_MAX = 200
USERS_MAX = 2_000_000_000
MINUTES_MAX = 525_600  # a year


class FixKind(StrEnum):
    """Whether what stopped the impact will keep it stopped."""

    PERMANENT = "permanent"
    STOPGAP = "stopgap"
    NONE = "none"

    @property
    def label(self) -> str:
        """How the close form offers it."""
        return {
            FixKind.PERMANENT: "Permanent fix",
            FixKind.STOPGAP: "Stopgap: a permanent fix is still needed",
            FixKind.NONE: "No fix was applied (it recovered by itself)",
        }[self]


@dataclass(frozen=True)
class Review:
    """The close form's answers, validated."""

    customer_impact: str
    detection: str
    root_cause: str
    fix_kind: FixKind
    users_affected: int | None = None
    impact_minutes: int | None = None
    lost_business: str = ""


class ReviewInvalid(InvalidInput):
    """Some answers are missing or too long; `errors` names each field."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


def _text(errors: dict[str, str], answers: dict[str, str], name: str, limit: int, required: str) -> str:
    value = strip_invisible(answers.get(name) or "").strip()
    if not value and required:
        errors[name] = required
    elif len(value) > limit:
        errors[name] = f"That is {len(value)} characters; keep it to {limit}."
    return value


def _count(errors: dict[str, str], answers: dict[str, str], name: str, limit: int) -> int | None:
    value = (answers.get(name) or "").strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()) or int(value) > limit:
        errors[name] = f"Give a whole number from 0 to {limit:,}, or leave it empty."
        return None
    return int(value)


def clean_review(answers: dict[str, str]) -> Review:
    """Validate the close form's answers (field name → text); `ReviewInvalid` names each problem."""
    errors: dict[str, str] = {}
    impact = _text(errors, answers, "customer_impact", IMPACT_MAX, "Say what customers saw, or “none”.")
    detection = _text(errors, answers, "detection", DETECTION_MAX, "Say how the incident was noticed.")
    root_cause = _text(errors, answers, "root_cause", ROOT_CAUSE_MAX, "Give your best guess; it can change.")
    lost = _text(errors, answers, "lost_business", LOST_BUSINESS_MAX, "")
    users = _count(errors, answers, "users_affected", USERS_MAX)
    minutes = _count(errors, answers, "impact_minutes", MINUTES_MAX)
    fix = next((kind for kind in FixKind if kind.value == answers.get("fix_kind")), None)
    if fix is None:
        errors["fix_kind"] = "Choose whether the fix is permanent, a stopgap, or none."
    if errors or fix is None:
        raise ReviewInvalid(errors)
    return Review(impact, detection, root_cause, fix, users, minutes, lost)


@dataclass(frozen=True)
class Closing:
    """What the close form shows: the incident, and the answers given if it was closed before."""

    incident: Incident
    previous: Review | None


def closing_form(session: Session, incident_id: int, ctx: Context) -> Closing:
    """The incident, if `ctx.actor` may close it now (checked before the close form opens), with
    the answers of an earlier close to start from."""
    incident = incident_to_close(session, incident_id, ctx)
    row = session.exec(select(PostmortemReview).where(PostmortemReview.incident_id == incident_id)).first()
    previous = None
    if row is not None:
        fields = {f.name: getattr(row, f.name) for f in dataclasses.fields(Review)}
        previous = Review(**{**fields, "fix_kind": FixKind(row.fix_kind)})
    return Closing(incident, previous)


def close_with_review(session: Session, incident_id: int, review: Review, ctx: Context) -> Outcome:
    """Close the incident and keep the answers for its postmortem; only one close wins."""
    outcome = close_incident(session, incident_id, ctx)
    answers = {**dataclasses.asdict(review), "given_by": ctx.actor.user_id, "given_at": ctx.at}
    row = session.exec(select(PostmortemReview).where(PostmortemReview.incident_id == incident_id)).first()
    if row is None:
        row = PostmortemReview(incident_id=incident_id, **answers)
    else:
        row.sqlmodel_update({**answers, "draft_ts": None, "draft_link": None, "drafted_at": None})
    session.add(row)
    return outcome


def drafts_due(session: Session, closed_before: datetime) -> list[int]:
    """Incidents closed before `closed_before` whose close has no draft posted yet."""
    statement = (
        select(PostmortemReview.incident_id)
        .join(Incident, col(Incident.id) == col(PostmortemReview.incident_id))
        .where(
            Incident.status == Status.CLOSED.value,
            col(Incident.closed_at) < closed_before,
            col(Incident.archived_at).is_(None),
            col(PostmortemReview.drafted_at).is_(None),
        )
    )
    return list(session.exec(statement).all())


def record_draft(session: Session, incident_id: int, *, ts: str, link: str, at: datetime) -> None:
    """Remember the draft message posted for the latest close (linked from the card)."""
    row = session.exec(select(PostmortemReview).where(PostmortemReview.incident_id == incident_id)).first()
    if row is not None:
        row.draft_ts, row.draft_link, row.drafted_at = ts, link, at
        session.add(row)


def draft_link(session: Session, incident_id: int) -> str | None:
    """The link to the latest postmortem draft posted for the incident, if any."""
    statement = select(PostmortemReview.draft_link).where(PostmortemReview.incident_id == incident_id)
    return session.exec(statement).first()
