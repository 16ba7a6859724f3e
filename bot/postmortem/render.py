"""The draft as a Markdown document and as JSON, both from the same `Draft` model."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

from bot.postmortem.metrics import duration
from bot.postmortem.models import Draft, Run
from bot.text import plural


def draft_json(draft: Draft) -> str:
    """The draft as indented JSON; datetimes are ISO 8601 UTC."""
    return draft.model_dump_json(indent=2)


def draft_markdown(draft: Draft, names: Mapping[str, str] | None = None, *, timeline: bool = True) -> str:
    """The draft as a Markdown document, one heading per part of the review; people are shown
    as @name where `names` (Slack user id → name) knows them. Without `timeline`, its section
    only says where the full timeline is (a draft built without one)."""
    sections = [
        [f"# {draft.ref}: {_line(draft.title)}", "", f"*{headline(draft)}*"],
        _summary(draft),
        _impact(draft),
        _detection(draft),
        _metrics(draft),
        _history(draft),
        _roles(draft),
        _remediation(draft),
        _timeline(draft) if timeline else ["## Timeline", "", "In full in the Markdown and JSON downloads."],
        _follow_ups(draft),
        _questions(draft),
    ]
    document = "\n\n".join("\n".join(section) for section in sections) + "\n"
    return _named(document, names) if names else document


def _named(document: str, names: Mapping[str, str]) -> str:
    """Each known user id (bare or as a `<@U…>` mention) replaced by @name, in one pass."""
    ids = "|".join(re.escape(user_id) for user_id in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"<@({ids})(?:\|[^>]*)?>|\b({ids})\b")
    return pattern.sub(lambda match: "@" + _line(names[match.group(1) or match.group(2)]), document)


def _time(at: datetime | None) -> str:
    """`2026-03-02 09:06:00` in UTC (isoformat: strftime costs more over 10,000 rows)."""
    if at is None:
        return "—"
    return (at.astimezone(UTC) if at.utcoffset() else at).isoformat(" ", "seconds")[:19]


def _cell(text: str | None) -> str:
    """Text safe inside a table cell: pipes escaped, line breaks kept as <br>."""
    if not text:
        return ""
    if "|" not in text and "\n" not in text and "\\" not in text and "\r" not in text:
        return text
    return (
        text.replace("\\", "\\\\")
        .replace("|", "\\|")
        .replace("\r\n", "\n")
        .replace("\r", "\n")
        .replace("\n", "<br>")
    )


def _line(text: str) -> str:
    return " ".join(text.split())


def _table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(value) for value in row) + " |" for row in rows]
    return lines


def _summary(draft: Draft) -> list[str]:
    return [
        "## Summary",
        "",
        _summary_text(draft),
        "",
        f"- Severity: {draft.severity} (worst reached: {draft.worst_severity})",
        f"- Status: {draft.status}" + (" (private incident)" if draft.private else ""),
        *(
            [f"- A drill rehearsing `{draft.drill_of}`: nobody was paged and every run was a dry run"]
            if draft.drill_of
            else []
        ),
        f"- Declared by {draft.declared_by} at {_time(draft.declared_at)} UTC",
        f"- Resolved: {_time(draft.resolved_at)} UTC" if draft.resolved_at else "- Resolved: not yet",
        f"- Closed: {_time(draft.closed_at)} UTC" if draft.closed_at else "- Closed: not yet",
    ]


def _summary_text(draft: Draft) -> str:
    """The declared summary, else what the resolution said, else a note that there is none."""
    if draft.summary.strip():
        return draft.summary.strip()
    resolved = [step.summary for step in draft.status_history if step.status == "resolved" and step.summary]
    return f"Resolved: {resolved[-1]}" if resolved else "_No summary recorded._"


def _item(text: str) -> str:
    """Text kept as written inside a Markdown list item (its later lines indented into it)."""
    return "\n  ".join(line.rstrip() for line in text.strip().splitlines())


def _impact(draft: Draft) -> list[str]:
    impact = draft.impact
    if not impact.given:
        return ["## Impact", "", f"_Impact {impact.note}._"]
    known = "not known"
    return [
        "## Impact",
        "",
        f"- Customer impact: {_item(impact.customer_impact) or known}",
        f"- Users affected: {known if impact.users_affected is None else impact.users_affected}",
        f"- Minutes of impact: {known if impact.impact_minutes is None else impact.impact_minutes}",
        f"- Lost orders or revenue: {_line(impact.lost_business) or known}",
        f"- Root cause (hypothesis): {_item(impact.root_cause) or known}",
        f"- Fix: {impact.fix_kind or known}",
        f"- Given by {impact.given_by} at {_time(impact.given_at)} UTC",
    ]


def _detection(draft: Draft) -> list[str]:
    detection = draft.detection
    lines = [
        "## Detection",
        "",
        detection.summary,
        "",
        f"- In their words: {_item(detection.in_their_words)}",
    ]
    for alert in draft.alerts:
        service = alert.service_name or "unknown service"
        lines.append(
            f"- Alert: {_line(alert.title)} on {service} ({alert.urgency or 'no'} "
            f"urgency, {alert.count}×), first seen {_time(alert.first_seen_at)} UTC, "
            f"acknowledged {_time(alert.acknowledged_at)}, resolved {_time(alert.resolved_at)}"
        )
    for page in draft.pages:
        assignees = f" (assigned to {page.assignees})" if page.assignees else ""
        lines.append(
            f"- Paged {page.service_name} by {page.paged_by} at {_time(page.paged_at)} UTC{assignees}"
        )
    return lines


def _metrics(draft: Draft) -> list[str]:
    m = draft.metrics
    rows = [
        ("Started", f"{_time(m.started_at)} UTC"),
        ("Time to detect", duration(m.time_to_detect)),
        ("Time to acknowledge", duration(m.time_to_acknowledge)),
        ("Time to mitigate", duration(m.time_to_mitigate)),
        ("Time to resolve", duration(m.time_to_resolve)),
    ]
    rows += [(f"Time at {label}", duration(spent)) for label, spent in m.time_in_severity.items()]
    return ["## Metrics", "", *_table(("Measure", "Value"), rows)]


def _history(draft: Draft) -> list[str]:
    severity = [(_time(s.at), s.severity, s.by or "") for s in draft.severity_history]
    status = [(_time(s.at), s.status, s.by or "", s.summary) for s in draft.status_history]
    return [
        "## Severity and status",
        "",
        *_table(("Time (UTC)", "Severity", "By"), severity),
        "",
        *_table(("Time (UTC)", "Status", "By", "Note"), status),
    ]


def _roles(draft: Draft) -> list[str]:
    rows = [
        (
            r.role,
            r.user_id,
            _time(r.assigned_at),
            _time(r.relieved_at or draft.closed_at) if (r.relieved_at or draft.closed_at) else "now",
            r.assigned_by,
        )
        for r in draft.roles
    ]
    handovers = f"Incident commander hand-overs: {draft.ic_handovers}"
    return [
        "## Roles",
        "",
        *_table(("Role", "Held by", "From (UTC)", "To (UTC)", "Assigned by"), rows),
        "",
        handovers,
    ]


def _remediation(draft: Draft) -> list[str]:
    if not draft.remediation:
        return ["## Remediation", "", "_No remediation was run from Warroom._"]
    lines = ["## Remediation"]
    for run in draft.remediation:
        lines += ["", *_run(run)]
    return lines


def _run(run: Run) -> list[str]:
    params = json.dumps(run.params, sort_keys=True, ensure_ascii=False)
    code = f"`` {params} ``" if "`" in params else f"`{params}`"
    how = ("automatic" if run.automatic else "requested") + (", dry run" if run.dry_run else "")
    return [
        f"### {_line(run.label)} (`{run.playbook_id}/{run.action_id}`): {run.state}",
        "",
        f"- Target: {_line(run.target)} ({run.risk} risk, {how})",
        f"- Parameters: {code}",
        f"- Requested by {run.requested_by} at {_time(run.requested_at)} UTC",
        f"- Approved by: {', '.join(run.approvers) or 'nobody'}"
        + (f"; rejected by: {', '.join(run.rejecters)}" if run.rejecters else ""),
        f"- Dispatched {_time(run.dispatched_at)}, finished {_time(run.finished_at)}",
        f"- Outcome: {_line(run.outcome) or 'none recorded'}",
    ]


def _timeline(draft: Draft) -> list[str]:
    # one f-string a row: this table can have 10,000 rows; kinds and user ids are Warroom's own
    # tokens, so only the text needs escaping
    rows = [
        f"| {_time(e.at)} | {e.kind} | {e.author_id or e.actor_id or ''} | {_cell(e.text)}"
        + (f" (added by {e.actor_id})" if e.author_id and e.author_id != e.actor_id else "")
        + " |"
        for e in draft.timeline
    ]
    return ["## Timeline", "", *_table(("Time (UTC)", "Kind", "Who", "What"), []), *rows]


def _follow_ups(draft: Draft) -> list[str]:
    if not draft.follow_ups:
        return ["## Follow-ups", "", "_No follow-ups recorded._"]
    lines = ["## Follow-ups", ""]
    for item in draft.follow_ups:
        owner = item.owner_id or "no owner"
        due = f", due {item.due_on.isoformat()}" if item.due_on else ""
        ticket = f", [issue]({item.ticket_url}) {item.ticket_state}" if item.ticket_url else ""
        lines.append(f"- [{'x' if item.done else ' '}] {_line(item.text)} ({owner}{due}{ticket})")
    return lines


def _questions(draft: Draft) -> list[str]:
    lines = ["## Questions for the review", ""]
    lines += [f"{n}. {question}" for n, question in enumerate(draft.questions, 1)] or ["_None._"]
    return lines


def headline(draft: Draft) -> str:
    """One plain line: worst severity, time to acknowledge, mitigate and resolve, and counts."""
    figures = draft.metrics
    parts = [
        draft.worst_severity + (f" (now {draft.severity})" if draft.severity != draft.worst_severity else "")
    ]
    if figures.acknowledged_at is not None and figures.acknowledged_at == draft.declared_at:
        parts.append("acknowledged at declaration")
    elif figures.time_to_acknowledge is not None:
        parts.append(f"acknowledged in {duration(figures.time_to_acknowledge)}")
    if figures.time_to_mitigate is not None:
        parts.append(f"mitigated in {duration(figures.time_to_mitigate)}")
    if figures.time_to_resolve is not None:
        parts.append(f"resolved in {duration(figures.time_to_resolve)}")
    else:
        parts.append("not resolved")
    parts += [
        plural(len(draft.remediation), "run"),
        plural(len(draft.follow_ups), "follow-up"),
        plural(len(draft.questions), "question"),
    ]
    return " · ".join(parts)
