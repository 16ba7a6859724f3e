import pytest

from bot.http.signing import is_valid_slack_request, slack_signature

# The worked example from Slack's "verifying requests" page.
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TIMESTAMP = "1531420618"
BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V"
    b"&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text="
    b"&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibI"
    b"GlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"
NOW = 1531420618 + 10


def test_slack_worked_example_signature_matches():
    assert slack_signature(SECRET, TIMESTAMP, BODY) == SIGNATURE
    assert is_valid_slack_request(SECRET, TIMESTAMP, SIGNATURE, BODY, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature", "body", "now"),
    [
        (None, SIGNATURE, BODY, NOW),
        (TIMESTAMP, None, BODY, NOW),
        ("abc", SIGNATURE, BODY, NOW),
        ("1531420618.5", SIGNATURE, BODY, NOW),
        ("１５３１４２０６１８", SIGNATURE, BODY, NOW),
        (TIMESTAMP, SIGNATURE, BODY, NOW + 301),
        (TIMESTAMP, SIGNATURE, BODY + b"x", NOW),
        (TIMESTAMP, SIGNATURE.upper(), BODY, NOW),
        (TIMESTAMP, "v1=" + SIGNATURE[3:], BODY, NOW),
        (TIMESTAMP, "", BODY, NOW),
    ],
)
def test_missing_stale_malformed_or_wrong_signatures_are_refused(timestamp, signature, body, now):
    assert not is_valid_slack_request(SECRET, timestamp, signature, body, now=now)
