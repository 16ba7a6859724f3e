"""Triage rules: first match in file order whether a rule is looked up by its exact value or
tried as a glob, labels that must be present, case-insensitive matching."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.alerts.sources import Signal
from bot.alerts.triage import Rule, RuleMatch, Rules


def signal(**fields) -> Signal:
    base = {
        "source": "alertmanager",
        "key": "alertmanager:0001",
        "status": "firing",
        "name": "HighErrorRate",
        "title": "Checkout is serving HTTP 5xx errors",
        "service": "checkout",
        "labels": {"team": "payments"},
        "at": datetime(2026, 11, 24, tzinfo=UTC),
    }
    return Signal(**(base | fields))


def rules(*pairs: tuple[str, dict]) -> Rules:
    return Rules(
        rules=tuple(Rule(name=n, match=RuleMatch(**m), triage="low") for n, m in pairs), default="high"
    )


def test_the_first_rule_in_file_order_decides_indexed_or_not():
    both = rules(("glob-first", {"title": "*5xx*"}), ("exact-second", {"service": "checkout"}))
    assert both.decide(signal())[1].name == "glob-first"
    swapped = rules(("exact-first", {"service": "CHECKOUT"}), ("glob-second", {"title": "*5xx*"}))
    assert swapped.decide(signal())[1].name == "exact-first"


def test_a_label_pattern_needs_the_label():
    any_team = rules(("any-team", {"labels": {"team": "*"}}))
    assert any_team.decide(signal())[1].name == "any-team"
    assert any_team.decide(signal(labels={}))[1] is None


def test_every_field_of_a_rule_must_match():
    strict = rules(("both", {"service": "checkout", "severity": "critical"}))
    assert strict.decide(signal(severity="warning")) == ("high", None)
    assert strict.decide(signal(severity="Critical"))[1].name == "both"


def test_replaced_rules_are_indexed_anew():
    base = rules(("old", {"service": "search"}))
    more = base.replaced(
        rules=(Rule(name="new", match=RuleMatch(service="checkout"), triage="ignore"), *base.rules)
    )
    assert more.decide(signal()) == ("ignore", more.rules[0])
