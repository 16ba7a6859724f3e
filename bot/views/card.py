"""The pinned incident card, the channel topic and the broadcast announcement."""

from __future__ import annotations

from datetime import datetime

from bot.alerts.links import Linked
from bot.incidents.rules import Role, Severity, Status
from bot.text import escape_mrkdwn
from bot.views import Blocks
from bot.views.controls import card_buttons
from storage.models import Incident

TOPIC_MAX = 250
HEADER_MAX = 150


def slack_date(at: datetime) -> str:
    """A date Slack renders in each reader's timezone, with a UTC fallback."""
    fallback = at.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(at.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def _labels(incident: Incident) -> tuple[str, str]:
    return Severity(incident.severity).label, Status(incident.status).label


def incident_card(
    incident: Incident,
    roles: dict[Role, str] | None = None,
    postmortem_link: str | None = None,
    alert: Linked | None = None,
    call: str | None = None,
) -> tuple[str, Blocks]:
    """The card pinned in the war room: fallback text and blocks; `alert` is the PagerDuty
    incident whose alert opened the room, `call` the incident's call link."""
    severity, status = _labels(incident)
    header = f"{incident.ref} · {incident.title}"
    fields = [
        f"*Severity*\n{severity}",
        f"*Status*\n{status}",
        f"*Incident commander*\n<@{incident.commander_id}>",
        f"*Declared by*\n<@{incident.declared_by}> {slack_date(incident.declared_at)}",
    ]
    for role in (Role.COMMS, Role.SCRIBE, Role.OPS):
        if roles and role in roles:
            fields.append(f"*{role.label}*\n<@{roles[role]}>")
    for label, at in (("Resolved", incident.resolved_at), ("Closed", incident.closed_at)):
        if at is not None:
            fields.append(f"*{label}*\n{slack_date(at)}")
    if postmortem_link:
        fields.append(f"*Postmortem*\n<{postmortem_link}|Draft>")
    if call and incident.closed_at is None:
        fields.append(f"*Call*\n:telephone_receiver: <{call}|Join the call>")
    blocks: Blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:HEADER_MAX]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": field} for field in fields]},
    ]
    if incident.summary:
        summary = {"type": "mrkdwn", "text": f"*Summary*\n{escape_mrkdwn(incident.summary)}"}
        blocks.append({"type": "section", "text": summary})
    notes = ["Type `/incident help` for what you can do here."]
    if alert is not None:  # a context line, as the section already holds up to Slack's 10 fields
        notes.insert(0, f":pager: Opened from {alert.mention()}")
    if incident.private:
        notes.insert(0, ":lock: Private incident: only members of this channel see it.")
    if incident.drill_of:
        drill = f":test_tube: *Drill* rehearsing `{incident.drill_of}`"
        notes.insert(0, f"{drill}: nobody is paged and every remediation run is a dry run.")
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": n} for n in notes]})
    blocks.extend(card_buttons(incident))
    text = f"{incident.ref} {severity} {status}: {escape_mrkdwn(incident.title)}"
    return text, blocks


def topic(incident: Incident, commander_name: str) -> str:
    """The war-room topic (plain text, Slack's 250 characters)."""
    severity, status = _labels(incident)
    drill = "DRILL · " if incident.drill_of else ""
    return f"{drill}{severity} · {status} · IC @{commander_name}"[:TOPIC_MAX]


def announcement(incident: Incident, call: str | None = None) -> tuple[str, Blocks]:
    """The broadcast: a private incident is announced without its title, channel or call."""
    severity, _ = _labels(incident)
    drill = incident.drill_of is not None
    icon, declared = (":test_tube:", "drill started") if drill else (":rotating_light:", "declared")
    if incident.private:
        line = (
            f"{icon} *{incident.ref} {declared}* · {severity} · private incident · "
            f"IC <@{incident.commander_id}>"
        )
    else:
        line = (
            f"{icon} *{incident.ref} {declared}* · {severity} · <#{incident.channel_id}>\n"
            f"*{escape_mrkdwn(incident.title)}*\nIC <@{incident.commander_id}>"
        )
        if call:
            line += f" · :telephone_receiver: <{call}|Join the call>"
    text = f"{incident.ref} {declared} ({severity})"
    if not incident.private:
        text += f": {escape_mrkdwn(incident.title)}"
    return text, [{"type": "section", "text": {"type": "mrkdwn", "text": line}}]


def broadcast_line(incident: Incident, message: str) -> str:
    """A change as told in the broadcast channel; a private incident keeps its title and details."""
    severity, status = _labels(incident)
    drill = " :test_tube: (drill)" if incident.drill_of else ""
    if incident.private:
        return f"*{incident.ref}*{drill} (private incident) is now {severity} · {status}."
    return f"*{incident.ref}*{drill} · {escape_mrkdwn(incident.title)} · <#{incident.channel_id}>\n{message}"
