"""Text as people read it: counted words ("1 minute", "2 minutes", never "minute(s)"), and user
text made safe for Slack's mrkdwn."""

from __future__ import annotations


def noun(n: int, word: str, many: str | None = None) -> str:
    """`word` as it goes with `n` (`minute` or `minutes`); `many` for an irregular plural."""
    if n == 1:
        return word
    return many if many is not None else word + "s"


def plural(n: int, word: str, many: str | None = None) -> str:
    """The count and its word: `1 minute`, `0 minutes`, `2 people` (with `many="people"`)."""
    return f"{n} {noun(n, word, many)}"


def escape_mrkdwn(text: str) -> str:
    """Escape Slack's control characters so `<!channel>` in user text pings nobody."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
