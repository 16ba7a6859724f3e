"""`/incident help` from the router's table: a subcommand without a topic still shows."""

from __future__ import annotations

from bot.slack.commands import Router, Subcommand


async def _nothing(_context: object) -> None:
    return None


def test_a_subcommand_without_a_topic_is_shown_under_more() -> None:
    router = Router()
    router.add(Subcommand("declare", "declare [title]", "open one.", ("/incident declare",), _nothing))
    router.add(Subcommand("wave", "wave", "say hello.", ("/incident wave",), _nothing))
    sections = [block["text"]["text"] for block in router.help_blocks()]
    assert sections[1].startswith("*Start*\n• `/incident declare [title]` — open one.")
    assert sections[2] == "*More*\n• `/incident wave` — say hello.\n    e.g. `/incident wave`"
