import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.incidents.errors import InvalidInput
from bot.incidents.rules import (
    TITLE_MAX,
    Severity,
    channel_name,
    clean_note,
    clean_summary,
    clean_title,
    parse_declare,
    slugify,
    strip_invisible,
)
from bot.text import escape_mrkdwn

# Bidi controls (embeddings, overrides, isolates, marks, the Arabic letter mark) and zero-width
# characters (space, non-joiner, joiner, word joiner, byte order mark).
BIDI = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"


def test_slug_is_lowercase_ascii_words_joined_by_hyphens():
    assert slugify("Checkout returns 500s!") == "checkout-returns-500s"
    assert slugify("  Ünïcödé   café — down ") == "unicode-cafe-down"
    assert slugify("🔥🔥🔥") == ""


def test_channel_name_uses_number_and_slug():
    assert channel_name(1, "Checkout returns 500s") == "inc-1-checkout-returns-500s"


def test_channel_name_without_a_slug_is_just_the_number():
    assert channel_name(12, "🔥 !!!") == "inc-12"


def test_channel_name_is_cut_to_80_characters_without_a_trailing_hyphen():
    name = channel_name(123, "word " * 40)
    assert len(name) <= 80 and not name.endswith("-")


def test_taken_names_get_a_numbered_suffix_within_80_characters():
    assert channel_name(1, "Checkout down", attempt=2) == "inc-1-checkout-down-2"
    assert channel_name(7, "x" * 200, attempt=3).endswith("-3")
    assert len(channel_name(7, "x" * 200, attempt=3)) == 80


@given(st.integers(min_value=1, max_value=10**9), st.text(max_size=300), st.integers(1, 10))
def test_channel_names_are_always_valid_slack_names(number, title, attempt):
    assert re.fullmatch(r"[a-z0-9-]{1,80}", channel_name(number, title, attempt))


def test_declare_text_splits_into_severity_and_title():
    assert parse_declare("sev2 Checkout returns 500s") == (Severity.SEV2, "Checkout returns 500s")
    assert parse_declare("SEV1 db down") == (Severity.SEV1, "db down")
    assert parse_declare("Checkout slow") == (Severity.SEV3, "Checkout slow")
    assert parse_declare("sev4") == (Severity.SEV4, "")
    assert parse_declare("") == (Severity.SEV3, "")
    assert parse_declare("severe latency") == (Severity.SEV3, "severe latency")


@pytest.mark.parametrize("token", ["sev9", "sev0", "sev-5", "SEV12"])
def test_out_of_range_severity_names_the_valid_ones(token):
    with pytest.raises(InvalidInput, match="sev1 \\(worst\\), sev2, sev3 or sev4"):
        parse_declare(f"{token} Checkout down")


def test_titles_are_trimmed_and_checked():
    assert clean_title("  Checkout   down ") == "Checkout down"
    with pytest.raises(InvalidInput, match="control characters"):
        clean_title("Checkout\x07down")
    with pytest.raises(InvalidInput, match=f"keep it to {TITLE_MAX}"):
        clean_title("x" * (TITLE_MAX + 1))
    with pytest.raises(InvalidInput, match="title"):
        clean_title("   ")


def test_escaping_neutralises_broadcast_mentions():
    assert escape_mrkdwn("<!channel> down & <@U1>") == "&lt;!channel&gt; down &amp; &lt;@U1&gt;"


def test_bidi_controls_and_zero_width_characters_are_stripped():
    assert strip_invisible(f"Check{ZERO_WIDTH}out {BIDI}down") == "Checkout down"
    assert strip_invisible("Café — 500s ✓日本") == "Café — 500s ✓日本"


@given(st.text(alphabet=st.sampled_from(BIDI + ZERO_WIDTH + "ab "), max_size=40))
def test_nothing_invisible_survives_stripping(text):
    assert not set(strip_invisible(text)) & set(BIDI + ZERO_WIDTH)


def test_a_title_reversed_by_a_bidi_override_reads_as_typed():
    assert clean_title("Refund \u202egnissim\u202c  API") == "Refund gnissim API"


def test_a_title_of_invisible_characters_only_is_refused_like_an_empty_one():
    with pytest.raises(InvalidInput, match="Give the incident a title"):
        clean_title(f" {BIDI} {ZERO_WIDTH} ")


def test_summaries_notes_and_updates_lose_invisible_characters():
    assert clean_summary(f"{ZERO_WIDTH} rolled back\u202e ") == "rolled back"
    assert clean_note(f"deploy\u200b 4512 {BIDI}") == "deploy 4512"
    with pytest.raises(InvalidInput, match="Write the text"):
        clean_note(ZERO_WIDTH)
