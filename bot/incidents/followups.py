"""Follow-ups: action items recorded during or after an incident, marked done once, reminded once.

They may be added to closed incidents too (the review comes after closing), so the check is
`ensure_may`, not `authorise`. Adding is idempotent by the request's key (trigger or view id),
marking done is a compare-and-set on `done_at`, and a reminder is claimed by a compare-and-set
on `reminded_at`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from bot.errors import WarroomError
from bot.incidents.changes import AlreadyChanged, Context, ensure_may, readable_incident
from bot.incidents.errors import InvalidInput
from bot.incidents.permissions import Action
from bot.incidents.rules import parse_user, strip_invisible
from bot.incidents.service import get_incident, record_event
from bot.text import escape_mrkdwn
from storage.errors import is_unique_violation
from storage.models import FollowUp, Incident, table
from storage.session import take_turn

FOLLOWUP_MAX = 1000
USAGE = "/incident followup [@owner] <text> [due YYYY-MM-DD]"
_OWNER = re.compile(r"^\s*(<@[^>]*>)")
_DUE = re.compile(r"(?:^|\s)due\s+(\S+)\s*$", re.IGNORECASE)
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class FollowUpNotFound(WarroomError):
    """No follow-up has that id (a stale or forged button)."""


@dataclass(frozen=True)
class FollowUpDraft:
    """What a person asked to record."""

    text: str
    owner_id: str | None = None
    due_on: date | None = None


def clean_followup_text(text: str) -> str:
    """The text trimmed, invisible characters gone; InvalidInput when empty or over FOLLOWUP_MAX."""
    text = strip_invisible(text).strip()
    if not text:
        raise InvalidInput(f"Write what should be done: `{USAGE}`.")
    if len(text) > FOLLOWUP_MAX:
        raise InvalidInput(f"That follow-up is {len(text)} characters; keep it to {FOLLOWUP_MAX}.")
    return text


def earliest_today(now: datetime) -> date:
    """The date it still is somewhere on Earth (UTC−12): a due date before it is past for everyone,
    so someone west of UTC picking their own today is never told it is in the past."""
    return (now - timedelta(hours=12)).date()


def parse_due(token: str, today: date) -> date:
    """`YYYY-MM-DD`, today or later; InvalidInput naming the format otherwise."""
    example = f"`due {today + timedelta(days=7):%Y-%m-%d}`"
    try:
        if not _ISO_DATE.match(token):
            raise ValueError(token)
        due = date.fromisoformat(token)
    except ValueError:
        shown = escape_mrkdwn(token[:20].replace("`", "'"))
        raise InvalidInput(
            f"`{shown}` is not a date: write the due date as YYYY-MM-DD, e.g. {example}."
        ) from None
    if due < today:
        raise InvalidInput(
            f"{due:%Y-%m-%d} is in the past: give today or a later date as YYYY-MM-DD, e.g. {example}."
        )
    return due


def parse_followup(text: str, today: date) -> FollowUpDraft:
    """`[@owner] <text> [due YYYY-MM-DD]` → a draft; InvalidInput says what to type instead."""
    owner = None
    mention = _OWNER.match(text)
    if mention:
        try:
            owner = parse_user(mention.group(1))
        except InvalidInput:
            raise InvalidInput(
                "Name the owner with @, e.g. `/incident followup @bob Add an alert`."
            ) from None
        text = text[mention.end() :]
    due = None
    found = _DUE.search(text)
    if found:
        due = parse_due(found.group(1), today)
        text = text[: found.start()]
    return FollowUpDraft(clean_followup_text(text), owner, due)


def add_followup(
    session: Session, incident_id: int, draft: FollowUpDraft, ctx: Context, key: str
) -> tuple[FollowUp, Incident, bool]:
    """Record a follow-up once per `key`; returns it, its incident and whether this call added it."""
    incident = get_incident(session, incident_id)
    ensure_may(session, incident, Action.NOTE, ctx)
    existing = _by_key(session, key)
    if existing is not None:
        return existing, incident, False
    followup = FollowUp(
        incident_id=incident_id,
        request_key=key,
        text=draft.text,
        owner_id=draft.owner_id,
        due_on=draft.due_on,
        created_by=ctx.actor.user_id,
        created_at=ctx.at,
    )
    try:
        with session.begin_nested():
            session.add(followup)
    except IntegrityError as exc:
        if not is_unique_violation(exc):
            raise
        existing = _by_key(session, key)  # a retry of the same request won the race
        assert existing is not None
        return existing, incident, False
    data = {"followup_id": followup.id, "owner": draft.owner_id, "due_on": _iso(draft.due_on)}
    record_event(
        session, incident, "followup_added", at=ctx.at, actor_id=ctx.actor.user_id, text=draft.text, data=data
    )
    return followup, incident, True


def _by_key(session: Session, key: str) -> FollowUp | None:
    return session.exec(select(FollowUp).where(FollowUp.request_key == key)).first()


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def incident_for_followups(session: Session, incident_id: int, ctx: Context) -> Incident:
    """The incident, if `ctx.actor` may add follow-ups to it (checked before the form opens)."""
    incident = get_incident(session, incident_id)
    ensure_may(session, incident, Action.NOTE, ctx)
    return incident


def list_followups(
    session: Session, number: int | None, channel_id: str, ctx: Context
) -> tuple[Incident, list[FollowUp]]:
    """Every follow-up of the incident: open ones first (soonest due first), then done ones."""
    incident = readable_incident(session, number, channel_id, ctx)
    rows = session.exec(select(FollowUp).where(FollowUp.incident_id == incident.id)).all()
    far = datetime.max.replace(tzinfo=UTC)

    def order(f: FollowUp) -> tuple[bool, date, datetime, int]:
        return f.done_at is not None, f.due_on or date.max, f.done_at or far, f.id or 0

    return incident, sorted(rows, key=order)


def followup_id(value: object) -> int:
    """A button's value as a follow-up id; FollowUpNotFound when it is not one."""
    text = str(value or "")
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise FollowUpNotFound("That follow-up does not exist.")
    return int(text)


def mark_done(session: Session, followup_id: int, ctx: Context) -> tuple[FollowUp, Incident]:
    """Mark a follow-up done (its owner, anyone who may add to the timeline, or an admin); once."""
    followup = session.get(FollowUp, followup_id)
    if followup is None:
        raise FollowUpNotFound("That follow-up does not exist.")
    incident = get_incident(session, followup.incident_id)
    actor = ctx.actor
    if actor.user_id != followup.owner_id or actor.is_external:  # a guest may finish their own
        ensure_may(session, incident, Action.NOTE, ctx)
    follow_ups = table(FollowUp)
    result = session.execute(
        update(follow_ups)
        .where(follow_ups.c.id == followup_id, follow_ups.c.done_at.is_(None))
        .values(done_at=ctx.at, done_by=actor.user_id)
    )
    session.refresh(followup)
    if not result.rowcount:  # type: ignore[attr-defined]
        assert followup.done_at is not None
        raise AlreadyChanged(f"Already done by <@{followup.done_by}> on {followup.done_at:%Y-%m-%d}.")
    record_event(
        session,
        incident,
        "followup_done",
        at=ctx.at,
        actor_id=actor.user_id,
        text=followup.text,
        data={"followup_id": followup_id},
    )
    return followup, incident


def claim_due_followups(session: Session, now: datetime) -> list[tuple[FollowUp, Incident]]:
    """Mark every due, open, unreminded follow-up as reminded now; the caller sends those."""
    if not take_turn(session, "followup-reminders"):
        return []
    follow_ups = table(FollowUp)
    claimed = []
    for followup, incident in session.exec(_due(now)).all():
        result = session.execute(
            update(follow_ups)
            .where(
                follow_ups.c.id == followup.id,
                follow_ups.c.reminded_at.is_(None),
                follow_ups.c.done_at.is_(None),
            )
            .values(reminded_at=now)
        )
        if result.rowcount:  # type: ignore[attr-defined]
            session.refresh(followup)
            claimed.append((followup, incident))
    return claimed


def any_due_followups(session: Session, now: datetime) -> bool:
    """Whether some follow-up is due at `now` and not yet reminded (a cheap look before claiming)."""
    return session.exec(_due(now).limit(1)).first() is not None


def _due(now: datetime) -> Select[FollowUp, Incident]:
    return (
        select(FollowUp, Incident)
        .join(Incident, col(Incident.id) == col(FollowUp.incident_id))
        .where(
            col(FollowUp.done_at).is_(None),
            col(FollowUp.reminded_at).is_(None),
            col(FollowUp.due_on) <= now.astimezone(UTC).date(),
        )
        .order_by(col(FollowUp.id))
    )
