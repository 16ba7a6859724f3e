from datetime import UTC, datetime, timedelta

from bot.simulator.view_rules import view_problems
from bot.views.home import home_view
from storage.models import Incident

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def incidents(count: int) -> list[Incident]:
    return [
        Incident(
            number=n,
            title=f"Incident {n}",
            severity=2,
            commander_id="U0ALICE",
            declared_by="U0ALICE",
            declared_at=NOW - timedelta(minutes=n),
            channel_id=f"C{n:08d}",
        )
        for n in range(1, count + 1)
    ]


def test_long_lists_are_cut_short_within_slacks_100_blocks_per_home_tab():
    view = home_view(incidents(60), incidents(150), hidden=3, now=NOW, notice="Sorry, try again.")
    assert view_problems(view, expected="home") == []
    notes = [b["elements"][0]["text"] for b in view["blocks"] if b["type"] == "context"]
    assert notes == [
        "Sorry, try again.",
        "and 20 more",
        "and 110 more; 3 private incidents you are not part of are not shown",
    ]
