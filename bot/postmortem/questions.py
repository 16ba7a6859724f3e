"""The questions a postmortem review must answer, each asked only when the facts behind it hold."""

from __future__ import annotations

from collections import Counter

from bot.postmortem.metrics import FAILED, FINISHED_STATES, duration
from bot.postmortem.models import Draft

SLOW = 15 * 60  # seconds before acknowledging or declaring counts as slow
AHEAD = 60  # a person must beat the first alert by this many seconds to ask about the alert
_FAILED_AS = {"failed": "failed", "timed_out": "timed out", "unknown": "ended with an unknown outcome"}


def review_questions(draft: Draft) -> list[str]:
    """Plain sentences with the numbers that prompted them, in the order a review goes."""
    return [
        *_detection(draft),
        *_response(draft),
        *_remediation(draft),
        *_fix(draft),
        *_follow_ups(draft),
    ]


def _detection(draft: Draft) -> list[str]:
    detection, ref = draft.detection, draft.ref
    if draft.drill_of:  # a rehearsal has nothing to detect
        return []
    if not detection.alert_fired:
        return [f"No alert fired for {ref}: what monitoring would have caught it?"]
    ahead = detection.person_ahead_of_alert
    if detection.method == "person" and ahead is not None and ahead >= AHEAD:
        ahead_by = duration(ahead)
        return [f"{ref} was detected by a person {ahead_by} before any alert: which alert should have fired?"]
    late = detection.time_to_detect
    if detection.method == "alert" and late is not None and late > SLOW:
        return [f"{ref} was declared {duration(late)} after its first alert: what held the declaration back?"]
    return []


def _response(draft: Draft) -> list[str]:
    questions: list[str] = []
    acknowledged = draft.metrics.time_to_acknowledge
    if acknowledged is not None and acknowledged > SLOW:
        questions.append(
            f"{draft.ref} was acknowledged {duration(acknowledged)} after it started: "
            "what delayed the first response?"
        )
    declared = draft.severity_history[0]
    if _level(draft.worst_severity) < _level(declared.severity):  # raised after declaration
        known = next(s for s in draft.severity_history if s.severity == draft.worst_severity)
        questions.append(
            f"{draft.ref} was declared {declared.severity} and raised to {draft.worst_severity} "
            f"{duration((known.at - declared.at).total_seconds())} later: "
            "what would have shown the real severity sooner?"
        )
    if draft.ic_handovers >= 2:
        questions.append(
            f"The incident commander changed {draft.ic_handovers} times: "
            "was each hand-over clear, and what context was lost?"
        )
    return questions


def _level(label: str) -> int:
    return int(label.removeprefix("SEV"))


def _remediation(draft: Draft) -> list[str]:
    ran = Counter(r.action_id for r in draft.remediation if r.state in FINISHED_STATES and not r.dry_run)
    questions = [
        f"{action} ran {n} times: what would make it unnecessary?" for action, n in ran.items() if n > 1
    ]
    failures = Counter((r.action_id, r.state) for r in draft.remediation if r.state in FAILED)
    for (action, state), n in failures.items():
        times = "" if n == 1 else f" {n} times"
        questions.append(f"{action} {_FAILED_AS[state]}{times}: why, and what should its runbook say?")
    return questions


def _fix(draft: Draft) -> list[str]:
    impact = draft.impact
    if not impact.given:
        return [f"No impact was recorded when {draft.ref} closed: who was affected, and for how long?"]
    if impact.fix_kind == "stopgap":
        automatic = any(r.automatic and r.state == "succeeded" for r in draft.remediation)
        fix = "The automatic fix" if automatic else "The fix"
        return [f"{fix} was a stopgap: what is the permanent fix, and who owns it?"]
    if impact.fix_kind == "none":
        return [f"Nothing was fixed for {draft.ref}: what stops it happening again?"]
    return []


def _follow_ups(draft: Draft) -> list[str]:
    if not draft.follow_ups:
        return [f"No follow-ups were recorded for {draft.ref}: what should change so it does not recur?"]
    unowned = sum(1 for f in draft.follow_ups if f.owner_id is None and not f.done)
    if unowned == 1:
        return ["1 follow-up has no owner: who owns it?"]
    if unowned > 1:
        return [f"{unowned} follow-ups have no owner: who owns them?"]
    return []
