"""How the console writes things for a reader: Jinja2 templates (autoescaped), times in the
reader's zone beside UTC, Slack's markup (mentions, channels, links) as plain names, and
Markdown (the postmortem draft) with any HTML in it escaped."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markdown_it import MarkdownIt
from markupsafe import Markup, escape
from starlette.templating import Jinja2Templates

HERE = Path(__file__).resolve().parent
SLACK_MARKUP = re.compile(r"<([@#!])([A-Za-z0-9_.-]+)(?:\|([^>]*))?>|<(https?://[^|>\s]+)(?:\|([^>]*))?>")
MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def zone_of(name: str | None) -> ZoneInfo:
    """The reader's zone, UTC when Slack gave none or one Python does not know."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def when(at: datetime | None, zone: ZoneInfo) -> Markup:
    """A moment in the reader's zone with UTC beside it, as a <time> element."""
    if at is None:
        return Markup("—")
    local, utc = at.astimezone(zone), at.astimezone(ZoneInfo("UTC"))
    shown = f"{local:%Y-%m-%d %H:%M} {local.tzname()}"
    if local.utcoffset() != utc.utcoffset():
        shown += f" · {utc:%H:%M} UTC"
    return Markup('<time datetime="{}">{}</time>').format(utc.isoformat(), shown)


def duration(seconds: float | None) -> str:
    """A span as people say it: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    value = int(seconds)
    if value < 60:
        return f"{value} s"
    if value < 3600:
        return f"{value // 60} min"
    if value < 86400:
        return f"{value // 3600} h {value % 3600 // 60} min"
    return f"{value // 86400} d {value % 86400 // 3600} h"


def mentioned(texts: Iterable[str]) -> set[str]:
    """The user ids mentioned in `texts` (`<@U…>`)."""
    return {match.group(1) for text in texts for match in MENTION.finditer(text or "")}


def slack_text(text: str, names: dict[str, str]) -> Markup:
    """Slack-formatted text for a web page: every part escaped, mentions and channels shown by
    name, links kept only when they are http(s)."""
    out: list[str] = []
    last = 0
    for match in SLACK_MARKUP.finditer(text or ""):
        out.append(str(escape(text[last : match.start()])))
        sigil, ident, label, url, url_label = match.groups()
        if url:
            out.append(
                str(Markup('<a href="{}" rel="noopener noreferrer">{}</a>').format(url, url_label or url))
            )
        elif sigil == "@":
            out.append(str(escape("@" + names.get(ident, label or ident))))
        elif sigil == "#":
            out.append(str(escape("#" + (label or ident))))
        else:
            out.append(str(escape("@" + (label or ident).split("^")[0])))
        last = match.end()
    out.append(str(escape((text or "")[last:])))
    return Markup("".join(out))


def markdown(text: str, below: int = 2) -> Markup:
    """Markdown rendered with any HTML in it shown as text, never run; its headings `below`
    levels down, to sit under the page's own."""
    tokens = _markdown.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + below, 6)}"
    return Markup(_markdown.renderer.render(tokens, _markdown.options, {}))


def templates() -> Jinja2Templates:
    """The console's templates, autoescaped, with the filters above."""
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(when=when, duration=duration, slack=slack_text, markdown=markdown)
    return Jinja2Templates(env=environment)
