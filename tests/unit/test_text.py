"""Counted words: singular for one, plural for everything else, irregular plurals given."""

from __future__ import annotations

from bot.text import noun, plural


def test_one_is_singular_and_every_other_count_is_plural() -> None:
    assert plural(1, "minute") == "1 minute"
    assert plural(2, "minute") == "2 minutes"
    assert plural(0, "alert") == "0 alerts"


def test_several_words_and_hyphens_take_the_plural_at_the_end() -> None:
    assert plural(1, "dry run") == "1 dry run"
    assert plural(3, "follow-up") == "3 follow-ups"


def test_an_irregular_plural_is_used_as_given() -> None:
    assert plural(1, "person", "people") == "1 person"
    assert plural(4, "person", "people") == "4 people"


def test_a_word_alone_agrees_with_its_count() -> None:
    assert noun(1, "is", "are") == "is"
    assert noun(2, "is", "are") == "are"
    assert noun(1, "keyword") == "keyword"
    assert noun(2, "keyword") == "keywords"
