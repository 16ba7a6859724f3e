import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.incidents.errors import InvalidInput
from bot.playbooks.models import Action
from bot.remediation.params import parse_assignments, validate_params

ACTION = Action.model_validate(
    {
        "id": "scale",
        "label": "Scale",
        "kind": "webhook",
        "url": "https://automation.internal/scale",
        "target": "consumers",
        "risk": "low",
        "params": {
            "release": {"pattern": "^v[0-9]{1,4}$", "max_length": 5},
            "replicas": {"type": "integer", "required": False},
            "drain": {"type": "boolean", "required": False},
            "zone": {"enum": ["eu", "us"], "required": False},
        },
    }
)


def test_values_are_typed():
    params = validate_params(ACTION, {"release": "v41", "replicas": "6", "drain": "yes", "zone": "eu"})
    assert params == {"release": "v41", "replicas": 6, "drain": True, "zone": "eu"}


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ({}, "needs `release`"),
        ({"release": "v41; rm -rf /"}, "at most 5"),
        ({"release": "$(id)"}, "expected form"),
        ({"release": "v1\n"}, "control characters"),
        ({"release": "v1", "replicas": "six"}, "whole number"),
        ({"release": "v1", "zone": "mars"}, "one of eu, us"),
        ({"release": "v1", "force": "1"}, "`force` is not a parameter"),
    ],
)
def test_bad_values_are_named(raw, problem):
    with pytest.raises(InvalidInput, match=re.escape(problem)):
        validate_params(ACTION, raw)


def test_assignments_are_split_like_a_shell_would_but_never_run():
    assert parse_assignments('release=v41 note="two words"') == {"release": "v41", "note": "two words"}
    with pytest.raises(InvalidInput):
        parse_assignments("release")


@given(st.text(max_size=20))
def test_any_accepted_release_fully_matches_its_pattern(value):
    try:
        params = validate_params(ACTION, {"release": value})
    except InvalidInput:
        return
    assert re.fullmatch(r"v[0-9]{1,4}", str(params["release"]))


@given(st.text(max_size=30))
def test_any_accepted_zone_is_one_of_the_choices(value):
    try:
        params = validate_params(ACTION, {"release": "v1", "zone": value})
    except InvalidInput:
        return
    assert params.get("zone", "eu") in ("eu", "us")
