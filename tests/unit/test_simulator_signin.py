"""The simulator serves Sign in with Slack (OpenID Connect) and users.conversations as Slack does,
refusals included, and records every call."""

import asyncio
import base64
import hashlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import KeySet
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.http.runner import ServerThread
from bot.simulator.seed import GENERAL_ID, seed_channels, seed_users
from bot.simulator.server import build_app
from bot.simulator.signin import sign_in_as
from bot.simulator.workspace import Channel, User, Workspace

TOKEN = "xoxb-sim"
CLIENT_ID = "1111111111.2222222222"
SECRET = "sim-client-secret"
CALLBACK = "http://127.0.0.1:9/console/auth/callback"  # never followed: redirects are read


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[Workspace, str]]:
    # Served by hand rather than through SlackSimulator, which has no setter for redirect URLs.
    ws = Workspace(token=TOKEN, bot_user_id="U0BOT", team_id="T0TEAM")
    seed_users(ws)
    seed_channels(ws)
    server = ServerThread(build_app(ws), lifespan="off", name="slack-simulator")
    ws.root_url = server.url + "/"
    server.start()
    yield ws, server.url
    server.stop()


@pytest.fixture
def ws(served: tuple[Workspace, str]) -> Workspace:
    workspace = served[0]
    with workspace.lock:
        workspace.clear()
        seed_channels(workspace)
        workspace.redirect_urls[:] = [CALLBACK]
    return workspace


@pytest.fixture
def root(served: tuple[Workspace, str], ws: Workspace) -> str:
    return served[1]


def authorize_url(root: str, **changes: str | None) -> str:
    params: dict[str, str | None] = {
        "response_type": "code",
        "scope": "openid profile email",
        "client_id": CLIENT_ID,
        "state": "state-1",
        "nonce": "nonce-1",
        "redirect_uri": CALLBACK,
    }
    params.update(changes)
    return f"{root}/openid/connect/authorize?{urlencode({k: v for k, v in params.items() if v is not None})}"


def answer_in(location: str) -> dict[str, str]:
    """The query Slack sent the browser back with, one value each."""
    assert location.startswith(CALLBACK)
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def code_for(root: str, user: str = "U0ALICE", **changes: str | None) -> str:
    return answer_in(sign_in_as(authorize_url(root, **changes), user))["code"]


def exchange(root: str, code: str | None, **changes: str | None) -> dict[str, Any]:
    form: dict[str, str | None] = {
        "client_id": CLIENT_ID,
        "client_secret": SECRET,
        "code": code,
        "redirect_uri": CALLBACK,
        "grant_type": "authorization_code",
    }
    form.update(changes)
    sent = {key: value for key, value in form.items() if value is not None}
    reply = httpx.post(f"{root}/api/openid.connect.token", data=sent)
    assert reply.status_code == 200
    return dict(reply.json())


def verified_claims(root: str, id_token: str) -> dict[str, Any]:
    discovery = httpx.get(f"{root}/.well-known/openid-configuration").json()
    keys = KeySet.import_key_set(httpx.get(discovery["jwks_uri"]).json())
    token = jwt.decode(id_token, keys, algorithms=["RS256"])
    return dict(token.claims)


def user_info(root: str, token: str | None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return dict(httpx.post(f"{root}/api/openid.connect.userInfo", headers=headers).json())


def methods(ws: Workspace) -> list[str]:
    with ws.lock:
        return [call.method for call in ws.recorded()]


# Discovery and the sign-in page


def test_discovery_puts_every_endpoint_on_the_simulators_root(root: str) -> None:
    document = httpx.get(f"{root}/.well-known/openid-configuration").json()
    assert document["issuer"] == root
    assert document["authorization_endpoint"] == f"{root}/openid/connect/authorize"
    assert document["token_endpoint"] == f"{root}/api/openid.connect.token"
    assert document["userinfo_endpoint"] == f"{root}/api/openid.connect.userInfo"
    assert document["jwks_uri"] == f"{root}/openid/connect/keys"
    assert document["scopes_supported"] == ["openid", "profile", "email"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert document["token_endpoint_auth_methods_supported"] == ["client_secret_post", "client_secret_basic"]
    (key,) = httpx.get(document["jwks_uri"]).json()["keys"]
    assert {key["kty"], key["use"], key["alg"]} == {"RSA", "sig", "RS256"} and key["kid"]


def test_sign_in_page_lists_the_people_escaped_and_no_bot(ws: Workspace, root: str) -> None:
    with ws.lock:
        ws.add_user(User("U0EVE", "eve", '<b>Eve</b> & "co"', "T0TEAM"), default_channel=GENERAL_ID)
    page = httpx.get(authorize_url(root, state='"><script>alert(1)</script>'))
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "<title>Sign in to Example</title>" in page.text
    for person in ("Alice (@alice)", "Carol (@carol)", "Guest (@guest)", "Oscar Outsider (@oscar)"):
        assert person in page.text
    assert "Warroom" not in page.text and 'value="U0BOT"' not in page.text
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; &quot;co&quot;" in page.text
    assert "<script" not in page.text and "&quot;&gt;&lt;script&gt;" in page.text
    assert "<h2>Other</h2>" in page.text and 'value="U0OUTSIDER"' in page.text
    assert page.text.count(">Cancel</button>") == 1
    assert page.headers["content-security-policy"] == "default-src 'none'"
    with ws.lock:
        (call,) = ws.recorded()
    assert (call.method, call.ok, call.encoding) == ("openid.connect.authorize", True, "query")
    assert "U0ALICE" in call.response["people"] and "U0BOT" not in call.response["people"]
    with ws.lock:
        assert ws.users.get("U0OUTSIDER") is None  # nothing else in the simulator sees the outsider


def test_team_narrows_the_page_to_that_workspace(ws: Workspace, root: str) -> None:
    page = httpx.get(authorize_url(root, team="T0OTHER"))
    assert "<title>Sign in to Other</title>" in page.text
    assert "Oscar Outsider" in page.text and "Alice" not in page.text
    with pytest.raises(RuntimeError, match="nobody who can sign in"):
        sign_in_as(authorize_url(root, team="T0OTHER"), "U0ALICE")


@pytest.mark.parametrize(
    ("changes", "error", "sentence"),
    [
        ({"client_id": "999.999"}, "invalid_client_id", "is not this app"),
        ({"client_id": None}, "invalid_client_id", "is not this app"),
        ({"response_type": "token"}, "unsupported_response_type", "must be &#x27;code&#x27;"),
        ({"scope": "profile email"}, "invalid_scope", "lacks openid"),
        ({"scope": "openid channels:read"}, "invalid_scope", "not channels:read"),
        ({"redirect_uri": None}, "bad_redirect_uri", "redirect_uri is missing"),
        ({"redirect_uri": "http://127.0.0.1:9/elsewhere"}, "bad_redirect_uri", "nor a path under one"),
        ({"redirect_uri": CALLBACK + "x"}, "bad_redirect_uri", "nor a path under one"),
        ({"redirect_uri": "http://evil.example/console/auth/callback"}, "bad_redirect_uri", "neither"),
        ({"redirect_uri": CALLBACK + "/../../admin"}, "bad_redirect_uri", "neither"),
        ({"team": "T0NOBODY"}, "invalid_team", "no workspace here"),
    ],
)
def test_sign_in_page_refuses_bad_requests(
    ws: Workspace, root: str, changes: dict[str, str | None], error: str, sentence: str
) -> None:
    page = httpx.get(authorize_url(root, **changes))
    assert page.status_code == 400 and sentence in page.text
    assert "<title>Sign in refused</title>" in page.text
    with ws.lock:
        (call,) = ws.recorded()
    assert (call.ok, call.error) == (False, error)


def test_a_sub_path_of_a_redirect_url_is_accepted(root: str) -> None:
    location = sign_in_as(authorize_url(root, redirect_uri=CALLBACK + "/next?x=1"), "U0BOB")
    assert location.startswith(CALLBACK + "/next?x=1&code=")


def test_cancel_sends_access_denied_and_the_state_back(root: str) -> None:
    location = sign_in_as(authorize_url(root, state="s p&ce"), "U0ALICE", cancel=True)
    assert answer_in(location) == {"error": "access_denied", "state": "s p&ce"}


def test_no_state_given_means_none_sent_back(root: str) -> None:
    assert set(answer_in(sign_in_as(authorize_url(root, state=None), "U0ALICE"))) == {"code"}


def test_the_posted_form_is_checked_again(ws: Workspace, root: str) -> None:
    url = f"{root}/openid/connect/authorize"
    form = {"response_type": "code", "scope": "openid", "client_id": CLIENT_ID, "user": "U0ALICE"}
    forged = httpx.post(url, data=form | {"redirect_uri": "http://evil.example/cb"})
    assert forged.status_code == 400 and "neither" in forged.text
    nobody = httpx.post(url, data=form | {"redirect_uri": CALLBACK, "user": "U0BOT"})
    assert nobody.status_code == 400


# The whole flow


def test_sign_in_gives_a_verified_id_token_and_user_info(ws: Workspace, root: str) -> None:
    location = sign_in_as(authorize_url(root, nonce="n-0123"), "U0CAROL")
    answer = answer_in(location)
    assert answer["state"] == "state-1"
    reply = exchange(root, answer["code"])
    assert reply["ok"] and reply["token_type"] == "Bearer" and reply["access_token"].startswith("xoxp-")
    claims = verified_claims(root, reply["id_token"])
    assert (claims["iss"], claims["aud"], claims["nonce"]) == (root, CLIENT_ID, "n-0123")
    assert claims["sub"] == claims["https://slack.com/user_id"] == "U0CAROL"
    assert claims["exp"] - claims["iat"] == 300 and claims["auth_time"] <= claims["iat"]
    digest = hashlib.sha256(reply["access_token"].encode()).digest()[:16]
    assert claims["at_hash"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert claims["https://slack.com/team_id"] == "T0TEAM"
    assert (claims["email"], claims["email_verified"]) == ("carol@example.com", True)
    assert (claims["name"], claims["given_name"], claims["locale"]) == ("Carol", "Carol", "en-US")
    assert claims["https://slack.com/team_name"] == "Example"
    assert claims["https://slack.com/team_domain"] == "example"
    assert claims["picture"].startswith("https://")
    info = user_info(root, reply["access_token"])
    assert info["ok"] and info["sub"] == "U0CAROL" and info["email"] == "carol@example.com"
    assert info["https://slack.com/team_id"] == "T0TEAM" and info["date_email_verified"] > 0
    assert "iss" not in info and "nonce" not in info
    assert methods(ws) == [
        "openid.connect.authorize",
        "openid.connect.authorize",
        "openid.connect.token",
        "openid.connect.userInfo",
    ]
    with ws.lock:
        _, choice, token, userinfo = ws.recorded()
    assert choice.args["user"] == "U0CAROL" and choice.encoding == "form"
    assert choice.response["location"] == location
    assert token.args["code"] == answer["code"] and token.ok and token.encoding == "form"
    assert userinfo.ok and userinfo.response["sub"] == "U0CAROL"


def test_the_outsider_signs_in_with_their_own_team(ws: Workspace, root: str) -> None:
    claims = verified_claims(root, exchange(root, code_for(root, "U0OUTSIDER"))["id_token"])
    assert claims["https://slack.com/team_id"] == "T0OTHER"
    assert claims["https://slack.com/team_name"] == "Other"
    assert claims["email"] == "oscar@other.example" and claims["family_name"] == "Outsider"
    with ws.lock:
        assert "U0OUTSIDER" not in ws.channels[GENERAL_ID].members
    slack = WebClient(token=TOKEN, base_url=f"{root}/api/")
    with pytest.raises(SlackApiError, match="user_not_found"):
        slack.users_info(user="U0OUTSIDER")


def test_openid_alone_gives_no_email_or_profile(root: str) -> None:
    reply = exchange(root, code_for(root, scope="openid", nonce=None))
    claims = verified_claims(root, reply["id_token"])
    assert "nonce" not in claims and "email" not in claims and "name" not in claims
    assert claims["sub"] == "U0ALICE"
    info = user_info(root, reply["access_token"])
    assert set(info) == {"ok", "sub", "https://slack.com/user_id", "https://slack.com/team_id"}


def test_http_basic_and_a_json_body_authenticate_the_app(root: str) -> None:
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    body = {"code": code_for(root), "redirect_uri": CALLBACK, "grant_type": "authorization_code"}
    headers = {"Authorization": f"Basic {basic}"}
    assert httpx.post(f"{root}/api/openid.connect.token", data=body, headers=headers).json()["ok"]
    body = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": code_for(root), "redirect_uri": CALLBACK}
    assert httpx.post(f"{root}/api/openid.connect.token", json=body).json()["ok"]


def test_the_token_step_ignores_a_bot_token(root: str) -> None:
    form = {"client_id": CLIENT_ID, "client_secret": SECRET, "code": code_for(root), "redirect_uri": CALLBACK}
    headers = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.post(f"{root}/api/openid.connect.token", data=form, headers=headers).json()["ok"]


# Refusals at the token step and userInfo


def test_a_code_works_once(ws: Workspace, root: str) -> None:
    code = code_for(root)
    assert exchange(root, code)["ok"]
    again = exchange(root, code)
    assert (again["ok"], again["error"]) == (False, "invalid_code")
    assert "used already" in again["response_metadata"]["messages"][0]
    with ws.lock:
        first, second = [call for call in ws.recorded() if call.method == "openid.connect.token"]
    assert (first.ok, second.ok, second.error) == (True, False, "invalid_code")


def test_a_code_lapses_after_ten_minutes(ws: Workspace, root: str) -> None:
    code = code_for(root)
    with ws.lock:
        ws.codes[code] = replace(ws.codes[code], at=ws.codes[code].at - 601)
    assert exchange(root, code)["error"] == "invalid_code"


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"client_id": "999.999"}, "invalid_client_id"),
        ({"client_id": None}, "invalid_client_id"),
        ({"client_secret": "guess"}, "bad_client_secret"),
        ({"client_secret": None}, "bad_client_secret"),
        ({"grant_type": "refresh_token"}, "invalid_grant_type"),
        ({"code": "0123abcd"}, "invalid_code"),
        ({"code": None}, "invalid_code"),
        ({"redirect_uri": CALLBACK + "/other"}, "bad_redirect_uri"),
        ({"redirect_uri": None}, "bad_redirect_uri"),
    ],
)
def test_the_token_step_refuses(root: str, changes: dict[str, str | None], error: str) -> None:
    code = code_for(root)
    reply = exchange(root, **({"code": code} | changes))
    assert (reply["ok"], reply["error"]) == (False, error)
    assert exchange(root, code)["ok"]  # a refusal does not use the code up


def test_pkce_binds_the_code_to_its_verifier(root: str) -> None:
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    code = code_for(root, code_challenge=challenge, code_challenge_method="S256")
    assert exchange(root, code)["error"] == "invalid_code_verifier"
    assert exchange(root, code, code_verifier="wrong")["error"] == "invalid_code_verifier"
    assert exchange(root, code, code_verifier=verifier)["ok"]


def test_user_info_wants_a_sign_in_token(ws: Workspace, root: str) -> None:
    assert user_info(root, None)["error"] == "not_authed"
    assert user_info(root, "xoxp-unknown")["error"] == "invalid_auth"
    assert user_info(root, TOKEN)["error"] == "not_allowed_token_type"
    assert httpx.get(f"{root}/api/openid.connect.userInfo").json()["error"] == "not_authed"
    with ws.lock:
        errors = [call.error for call in ws.recorded()]
    assert errors == ["not_authed", "invalid_auth", "not_allowed_token_type", "not_authed"]


def test_a_sign_in_token_cannot_call_bot_methods(root: str) -> None:
    access_token = exchange(root, code_for(root))["access_token"]
    assert user_info(root, access_token)["ok"]
    slack = WebClient(token=access_token, base_url=f"{root}/api/")
    with pytest.raises(SlackApiError, match="missing_scope"):
        slack.users_info(user="U0ALICE")


# users.conversations


def add_channel(ws: Workspace, name: str, members: list[str], **flags: bool) -> str:
    with ws.lock:
        channel = Channel(id=ws.next_id("C"), name=name, creator="U0BOT", members=members, **flags)
        ws.channels[channel.id] = channel
    return channel.id


@pytest.fixture
def slack(root: str) -> WebClient:
    return WebClient(token=TOKEN, base_url=f"{root}/api/")


def test_user_conversations_lists_what_the_person_is_in_that_the_bot_sees(
    ws: Workspace, slack: WebClient
) -> None:
    shared = add_channel(ws, "inc-1", ["U0BOT", "U0ALICE"], is_private=True)
    add_channel(ws, "hidden", ["U0ALICE"], is_private=True)  # the bot is not in it: invisible
    public = add_channel(ws, "lobby", ["U0ALICE"])
    add_channel(ws, "not-alices", ["U0BOB", "U0BOT"])
    old = add_channel(ws, "inc-0", ["U0BOT", "U0ALICE"], is_private=True, is_archived=True)
    with ws.lock:
        direct = ws.direct("U0ALICE").id

    def ids(**args: Any) -> list[str]:
        return [channel["id"] for channel in slack.users_conversations(**args)["channels"]]

    assert ids(user="U0ALICE") == [GENERAL_ID, public]
    assert ids(user="U0ALICE", types="private_channel") == [shared, old]
    assert ids(user="U0ALICE", types="private_channel", exclude_archived=True) == [shared]
    assert ids(user="U0ALICE", types="im") == [direct]
    assert ids(user="U0ALICE", types="mpim") == []
    assert ids() == ["C0GENERAL", "C0BROADCAST", "C00000004"]  # the bot's own, by default
    listed = slack.users_conversations(user="U0ALICE", types="private_channel", limit=999)
    assert listed["channels"][0] == slack.conversations_info(channel=shared)["channel"]
    with ws.lock:
        call = next(c for c in ws.recorded() if c.method == "users.conversations")
    assert call.ok and call.args == {"user": "U0ALICE"}


def test_user_conversations_answers_the_gateways_call(ws: Workspace, root: str) -> None:
    shared = add_channel(ws, "inc-1", ["U0BOT", "U0ALICE"], is_private=True)
    client = AsyncWebClient(token=TOKEN, base_url=f"{root}/api/")
    call = client.users_conversations(
        user="U0ALICE", types="private_channel", exclude_archived=False, limit=999, cursor=None
    )
    reply = asyncio.run(call)
    assert [channel["id"] for channel in reply["channels"]] == [shared]
    with ws.lock:
        (recorded,) = ws.recorded()
    assert recorded.ok and recorded.encoding == "query"


def test_user_conversations_pages_by_cursor(ws: Workspace, slack: WebClient) -> None:
    for number in range(3):
        add_channel(ws, f"room-{number}", ["U0BOT", "U0DAVE"])
    seen: list[str] = []
    cursor = ""
    while True:
        page = slack.users_conversations(user="U0DAVE", limit=2, cursor=cursor)
        assert len(page["channels"]) <= 2
        seen += [channel["name"] for channel in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert seen == ["general", "room-0", "room-1", "room-2"]
    assert len(slack.users_conversations(user="U0DAVE", limit=5000)["channels"]) == 4


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ({"user": "U0NOBODY"}, "user_not_found"),
        ({"user": "U0OUTSIDER"}, "user_not_found"),
        ({"types": "public_channel,dm"}, "invalid_types"),
        ({"cursor": "not-a-cursor"}, "invalid_cursor"),
    ],
)
def test_user_conversations_refuses(slack: WebClient, args: dict[str, str], error: str) -> None:
    with pytest.raises(SlackApiError) as raised:
        slack.users_conversations(**args)
    assert raised.value.response["error"] == error


def test_user_conversations_ignores_a_json_body(root: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    reply = httpx.post(f"{root}/api/users.conversations", json={"user": "U0NOBODY"}, headers=headers).json()
    assert reply["ok"]  # the user went unread, so the bot's own were listed
