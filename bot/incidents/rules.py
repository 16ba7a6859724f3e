"""Pure rules: severities, statuses, titles, channel names, mrkdwn escaping."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from bot.incidents.errors import InvalidInput
from bot.text import escape_mrkdwn

TITLE_MAX = 120
SUMMARY_MAX = 2000
CHANNEL_NAME_MAX = 80
_SEVERITY_TOKEN = re.compile(r"^sev-?(\d+)$", re.IGNORECASE)
# Bidi controls reorder the text after them and zero-width characters hide inside words, so a
# title, card or timeline would read differently from what it holds (Trojan Source, CVE-2021-42574).
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


class Severity(IntEnum):
    """SEV1 is the worst; SEV3 is the default."""

    SEV1 = 1
    SEV2 = 2
    SEV3 = 3
    SEV4 = 4

    @property
    def label(self) -> str:
        """How people write it: SEV2."""
        return f"SEV{self.value}"


DEFAULT_SEVERITY = Severity.SEV3


class Status(StrEnum):
    """Where an incident stands, in the order it usually moves."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"

    @property
    def label(self) -> str:
        """Capitalised for cards and topics."""
        return self.value.capitalize()


@dataclass(frozen=True)
class Declaration:
    """What a person asked for when declaring."""

    title: str
    severity: Severity = DEFAULT_SEVERITY
    summary: str = ""
    private: bool = False
    drill_of: str | None = None  # a practice incident rehearsing this runbook


def severity_from_token(token: str) -> Severity | None:
    """`sev2` → SEV2; None when the token is not a severity at all; InvalidInput for `sev9`."""
    match = _SEVERITY_TOKEN.match(token)
    if not match:
        return None
    number = int(match.group(1))
    if not 1 <= number <= 4:
        raise InvalidInput(f"`{token}` is not a severity: use sev1 (worst), sev2, sev3 or sev4.")
    return Severity(number)


def parse_declare(text: str) -> tuple[Severity, str]:
    """Split `[sev1-4] [title]` into a severity (default SEV3) and a title (maybe empty)."""
    head, _, rest = text.strip().partition(" ")
    severity = severity_from_token(head) if head else None
    if severity is None:
        return DEFAULT_SEVERITY, text.strip()
    return severity, rest.strip()


def strip_invisible(text: str) -> str:
    """The text without bidi controls and zero-width characters."""
    return _INVISIBLE.sub("", text)


def clean_title(title: str) -> str:
    """The title with spaces collapsed and invisible characters gone; InvalidInput if empty, too long
    or with control characters."""
    title = strip_invisible(title)
    if any(unicodedata.category(char) == "Cc" for char in title.replace("\n", " ")):
        raise InvalidInput("The title contains control characters; type it as plain text.")
    title = " ".join(title.split())
    if not title:
        raise InvalidInput("Give the incident a title, e.g. `/incident declare sev2 Checkout returns 500s`.")
    if len(title) > TITLE_MAX:
        raise InvalidInput(
            f"The title is {len(title)} characters; keep it to {TITLE_MAX} and put details in the summary."
        )
    return title


def _no_controls(text: str, what: str) -> str:
    """`text`, unless it holds a control character other than a tab or a line break."""
    if any(unicodedata.category(char) == "Cc" and char not in "\t\n\r" for char in text):
        raise InvalidInput(f"The {what} contains control characters; type it as plain text.")
    return text


def clean_summary(summary: str) -> str:
    """The summary trimmed, invisible characters gone; InvalidInput when over the limit or with
    control characters."""
    summary = _no_controls(strip_invisible(summary).strip(), "summary")
    if len(summary) > SUMMARY_MAX:
        raise InvalidInput(f"The summary is {len(summary)} characters; keep it to {SUMMARY_MAX}.")
    return summary


def slugify(title: str) -> str:
    """Lowercase ASCII words joined by hyphens: 'Checkout returns 500s!' → 'checkout-returns-500s'."""
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")


def channel_name(number: int, title: str, attempt: int = 1) -> str:
    """`inc-<n>-<slug>` within Slack's 80 characters; attempts after the first add `-<attempt>`."""
    suffix = f"-{attempt}" if attempt > 1 else ""
    base = f"inc-{number}"
    slug = slugify(title)
    if slug:
        base = f"{base}-{slug}"[: CHANNEL_NAME_MAX - len(suffix)].rstrip("-")
    return base + suffix


def call_link(template: str | None, number: int, title: str, made: str | None = None) -> str | None:
    """The incident's call: the meeting `made` for it, else `template` with its number and
    title slug filled in (a fixed link stays as it is); None without either."""
    if made:
        return made
    return template.format(number=number, slug=slugify(title) or f"inc-{number}") if template else None


class Role(StrEnum):
    """Roles people hold in an incident; the commander is the one who decides."""

    COMMANDER = "commander"
    COMMS = "comms"
    SCRIBE = "scribe"
    OPS = "ops"

    @property
    def label(self) -> str:
        """How the card names the role."""
        return "Incident commander" if self is Role.COMMANDER else self.value.capitalize()


NOTE_MAX = 3000
OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)
_MENTION = re.compile(r"^<@([UW][A-Z0-9]+)(?:\|[^>]*)?>$")
_INCIDENT_REF = re.compile(r"^(?:#)?inc-?(\d{1,9})$", re.IGNORECASE)


def parse_user(token: str) -> str:
    """`<@U123|alice>` → U123; InvalidInput for anything else (Slack escapes mentions for us)."""
    match = _MENTION.match(token.strip())
    if not match:
        raise InvalidInput("Name a person with @, e.g. `/incident ic @alice`.")
    return match.group(1)


def incident_number(token: str) -> int | None:
    """`INC-7` → 7; None when the token does not name an incident."""
    match = _INCIDENT_REF.match(token)
    return int(match.group(1)) if match else None


def parse_severity(text: str) -> Severity:
    """`2`, `sev2` or `SEV2` → SEV2; InvalidInput naming the valid values otherwise."""
    token = text.strip()
    severity = severity_from_token(token if token.lower().startswith("sev") else f"sev{token}")
    if severity is None:
        raise InvalidInput(f"`{escape_mrkdwn(token[:20])}` is not a severity: use 1 (worst), 2, 3 or 4.")
    return severity


def parse_status(text: str) -> Status:
    """An open or resolved status by name; InvalidInput naming the valid values otherwise."""
    token = text.strip().lower()
    choices = (*OPEN_STATUSES, Status.RESOLVED)
    for status in choices:
        if token == status.value:
            return status
    names = ", ".join(status.value for status in choices)
    raise InvalidInput(f"`{escape_mrkdwn(token[:30])}` is not a status: use one of {names}.")


def clean_note(text: str) -> str:
    """A note or update: trimmed, invisible characters gone, not empty, within Slack's readable
    limit, no control characters."""
    text = _no_controls(strip_invisible(text).strip(), "text")
    if not text:
        raise InvalidInput("Write the text after the subcommand, e.g. `/incident note rolled back to v41`.")
    if len(text) > NOTE_MAX:
        raise InvalidInput(f"That is {len(text)} characters; keep it to {NOTE_MAX}.")
    return text
