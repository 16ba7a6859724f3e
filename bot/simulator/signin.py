"""Sign in with Slack (OpenID Connect), served on the simulator's own root.

Slack's facts, from its discovery document (https://slack.com/.well-known/openid-configuration),
docs.slack.dev/authentication/sign-in-with-slack and the method pages
docs.slack.dev/reference/methods/openid.connect.token and .../openid.connect.userInfo:

- Discovery: issuer https://slack.com; authorization_endpoint /openid/connect/authorize;
  token_endpoint /api/openid.connect.token; userinfo_endpoint /api/openid.connect.userInfo;
  jwks_uri /openid/connect/keys; scopes openid, profile, email; response type code (mode
  form_post); grant type authorization_code; public subjects; id_tokens signed RS256; client
  authentication client_secret_post or client_secret_basic. Here every URL is on the
  simulator's root, and the issuer is that root (scheme, host and port, no trailing slash).
- Authorize takes response_type=code, scope, client_id, state, nonce, redirect_uri and team;
  the redirect_uri must "match or be a sub-path of a Redirect URL configured for the app".
- The code goes to openid.connect.token for a user token (xoxp-) and an id_token: a JWT whose
  claims are the OpenID ones (exp is iat + 300 in Slack's example) plus Slack's
  https://slack.com/* ones; openid.connect.userInfo gives the same identity for the token.

The sign-in page is the simulator's own: a button per person who could sign in (the workspace's
people, then those of other workspaces), no script, every value escaped. Codes work once, for
10 minutes, as Slack's OAuth codes do. The two Web API methods are in api_people.py.
"""

import base64
import hashlib
import html
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from .calls import Call
from .workspace import Grant, Team, User, Workspace

AUTHORIZE = "openid.connect.authorize"  # the method name its recorded calls carry
AUTHORIZE_PATH = "/openid/connect/authorize"
KEYS_PATH = "/openid/connect/keys"
SCOPES = frozenset({"openid", "profile", "email"})
# What the sign-in page carries from the query to its buttons; anything else is dropped.
PASSED_ON = (
    "response_type",
    "scope",
    "client_id",
    "state",
    "nonce",
    "redirect_uri",
    "team",
    "code_challenge",
    "code_challenge_method",
)


class Refusal(Exception):
    """An authorization request the sign-in page will not serve, with the sentence it shows."""

    def __init__(self, error: str, sentence: str) -> None:
        super().__init__(sentence)
        self.error = error
        self.sentence = sentence


@dataclass(frozen=True)
class Ask:
    """A checked authorization request."""

    passed_on: dict[str, str]
    redirect_uri: str
    scopes: frozenset[str]
    state: str | None
    nonce: str | None
    team: Team | None
    challenge: tuple[str, str] | None


# Discovery and keys


def issuer(ws: Workspace) -> str:
    """The issuer: the simulator's root without its trailing slash, as https://slack.com is."""
    return ws.root_url.rstrip("/")


async def discovery(request: Request) -> Response:
    """GET /.well-known/openid-configuration."""
    ws: Workspace = request.app.state.workspace
    with ws.lock:
        root = issuer(ws)
    return JSONResponse(
        {
            "issuer": root,
            "authorization_endpoint": root + AUTHORIZE_PATH,
            "token_endpoint": root + "/api/openid.connect.token",
            "userinfo_endpoint": root + "/api/openid.connect.userInfo",
            "jwks_uri": root + KEYS_PATH,
            "scopes_supported": ["openid", "profile", "email"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["form_post"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "claims_supported": ["sub", "auth_time", "iss"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }
    )


async def keys(request: Request) -> Response:
    """GET /openid/connect/keys: the JWKS an id_token verifies against."""
    ws: Workspace = request.app.state.workspace
    with ws.lock:
        key = public_jwk(signing_key(ws))
    return JSONResponse({"keys": [key]})


def signing_key(ws: Workspace) -> rsa.RSAPrivateKey:
    """The simulator's RSA key, made on first use (2048 bits take a moment)."""
    if ws.signing_key is None:
        ws.signing_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return ws.signing_key


def public_jwk(key: rsa.RSAPrivateKey) -> dict[str, str]:
    """The public half as a JWK; its kid is the RFC 7638 thumbprint."""
    numbers = key.public_key().public_numbers()
    members = {"e": _b64_int(numbers.e), "kty": "RSA", "n": _b64_int(numbers.n)}
    kid = b64url(hashlib.sha256(json.dumps(members, separators=(",", ":")).encode()).digest())
    return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256", "n": members["n"], "e": members["e"]}


def encode_jwt(key: rsa.RSAPrivateKey, claims: dict[str, Any]) -> str:
    """A compact JWS of the claims, signed RS256."""
    header = {"typ": "JWT", "alg": "RS256", "kid": public_jwk(key)["kid"]}
    signing_input = f"{_b64_json(header)}.{_b64_json(claims)}"
    signature = key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


def b64url(raw: bytes) -> str:
    """Base64url without padding, as JOSE writes it."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64_int(number: int) -> str:
    return b64url(number.to_bytes((number.bit_length() + 7) // 8, "big"))


def _b64_json(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


# The sign-in page


async def authorize(request: Request) -> Response:
    """GET: the sign-in page for an authorization request. POST: a person's choice on it,
    answered with a redirect to the app. Both are recorded as "openid.connect.authorize"."""
    ws: Workspace = request.app.state.workspace
    arrived = time.monotonic()
    posted = request.method == "POST"
    if posted:
        params = dict(parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True))
    else:
        params = dict(request.query_params)
    with ws.lock:
        try:
            response, body = _decide(ws, params) if posted else _page(ws, params)
        except Refusal as refusal:
            response = _html("Sign in refused", f"<p>{_esc(refusal.sentence)}</p>", status=400)
            body = {"ok": False, "error": refusal.error, "message": refusal.sentence}
        encoding = "form" if posted else "query"
        ws.calls.append([Call(AUTHORIZE, params, body["ok"], body.get("error"), body, arrived, encoding)])
    return response


def read_request(ws: Workspace, params: dict[str, str]) -> Ask:
    """Check an authorization request the way Slack does before showing its page."""
    client_id = params.get("client_id", "")
    if client_id != ws.client_id:
        raise Refusal("invalid_client_id", f"client_id '{client_id}' is not this app's ({ws.client_id}).")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri:
        raise Refusal("bad_redirect_uri", "redirect_uri is missing: send one of the app's Redirect URLs.")
    if not redirect_allowed(ws.redirect_urls, redirect_uri):
        allowed = f"they are {', '.join(ws.redirect_urls)}" if ws.redirect_urls else "it has none yet"
        raise Refusal(
            "bad_redirect_uri",
            f"redirect_uri '{redirect_uri}' is neither one of the app's Redirect URLs nor a path "
            f"under one ({allowed}).",
        )
    if params.get("response_type") != "code":
        raise Refusal("unsupported_response_type", "response_type must be 'code'.")
    return Ask(
        passed_on={name: params[name] for name in PASSED_ON if name in params},
        redirect_uri=redirect_uri,
        scopes=_scopes(params.get("scope", "")),
        state=params.get("state"),
        nonce=params.get("nonce") or None,
        team=_team(ws, params.get("team", "")),
        challenge=_challenge(params),
    )


def redirect_allowed(configured: list[str], uri: str) -> bool:
    """Whether `uri` is a configured Redirect URL or a path under one (same scheme and host)."""
    got = urlsplit(uri)
    if got.scheme not in ("http", "https") or got.fragment or ".." in got.path.split("/"):
        return False
    for url in configured:
        want = urlsplit(url)
        if (got.scheme, got.netloc.lower()) != (want.scheme, want.netloc.lower()):
            continue
        if got.path == want.path or got.path.startswith(want.path.rstrip("/") + "/"):
            return True
    return False


def _scopes(scope: str) -> frozenset[str]:
    asked = frozenset(scope.replace(",", " ").split())
    if "openid" not in asked:
        raise Refusal("invalid_scope", f"scope '{scope}' lacks openid: Sign in with Slack needs it.")
    if asked - SCOPES:
        unknown = ", ".join(sorted(asked - SCOPES))
        raise Refusal("invalid_scope", f"Sign in with Slack offers openid, profile and email, not {unknown}.")
    return asked


def _team(ws: Workspace, team_id: str) -> Team | None:
    if not team_id:
        return None
    team = known_team(ws, team_id)
    if team is None:
        raise Refusal("invalid_team", f"team '{team_id}' is no workspace here.")
    return team


def _challenge(params: dict[str, str]) -> tuple[str, str] | None:
    challenge = params.get("code_challenge")
    if not challenge:
        return None
    method = params.get("code_challenge_method") or "plain"
    if method not in ("S256", "plain"):
        raise Refusal("invalid_request", "code_challenge_method must be S256 or plain.")
    return method, challenge


def known_team(ws: Workspace, team_id: str) -> Team | None:
    """The workspace or other team with this id."""
    return ws.team if team_id == ws.team.id else ws.other_teams.get(team_id)


def team_of(ws: Workspace, user: User) -> Team:
    """The team a person signs in with (named after its id if nobody described it)."""
    return known_team(ws, user.team_id) or Team(user.team_id, user.team_id, user.team_id.lower())


def signers(ws: Workspace, team: Team | None = None) -> list[User]:
    """Everyone the sign-in page offers: the workspace's people, then other teams' (no bots)."""
    everyone = [*ws.users.values(), *ws.outsiders.values()]
    return [user for user in everyone if not user.is_bot and (team is None or user.team_id == team.id)]


def _page(ws: Workspace, params: dict[str, str]) -> tuple[Response, dict[str, Any]]:
    ask = read_request(ws, params)
    people = signers(ws, ask.team)
    hidden = "".join(_hidden(name, value) for name, value in ask.passed_on.items())
    teams: dict[str, list[User]] = {}
    for user in people:
        teams.setdefault(user.team_id, []).append(user)
    groups = "".join(
        f"<h2>{_esc(team_of(ws, members[0]).name)}</h2><ul>"
        + "".join(f"<li>{_form(hidden, 'user', user.id, _label(user))}</li>" for user in members)
        + "</ul>"
        for members in teams.values()
    )
    wants = " ".join(sorted(ask.scopes))
    intro = f"<p>The app {_esc(ws.client_id)} asks who you are ({_esc(wants)}). Choose a person.</p>"
    title = f"Sign in to {(ask.team or ws.team).name}"
    page = _html(title, intro + groups + _form(hidden, "cancel", "1", "Cancel"))
    return page, {"ok": True, "people": [user.id for user in people]}


def _label(user: User) -> str:
    return f"{user.real_name} (@{user.name})"


def _decide(ws: Workspace, params: dict[str, str]) -> tuple[Response, dict[str, Any]]:
    ask = read_request(ws, params)
    if params.get("cancel"):
        return _redirect(ask, error="access_denied")
    user_id = params.get("user", "")
    user = next((u for u in signers(ws, ask.team) if u.id == user_id), None)
    if user is None:
        raise Refusal("invalid_user", f"'{user_id}' is nobody who can sign in here.")
    code = secrets.token_hex(20)
    team = team_of(ws, user)
    ws.codes[code] = Grant(user, team, ask.scopes, ask.redirect_uri, ask.nonce, ask.challenge, time.time())
    return _redirect(ask, code=code)


def _redirect(ask: Ask, **answer: str) -> tuple[Response, dict[str, Any]]:
    if ask.state is not None:
        answer["state"] = ask.state
    parts = urlsplit(ask.redirect_uri)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *answer.items()])
    location = urlunsplit(parts._replace(query=query))
    return RedirectResponse(location, status_code=302), {"ok": True, "location": location}


def _form(hidden: str, name: str, value: str, label: str) -> str:
    button = f'<button type="submit">{_esc(label)}</button>'
    return f'<form method="post" action="{AUTHORIZE_PATH}">{hidden}{_hidden(name, value)}{button}</form>'


def _hidden(name: str, value: str) -> str:
    return f'<input type="hidden" name="{_esc(name)}" value="{_esc(value)}">'


def _esc(value: str) -> str:
    return html.escape(value, quote=True)


def _html(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    page = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{_esc(title)}</title>'
        f"</head><body><main><h1>{_esc(title)}</h1>{body}</main></body></html>"
    )
    headers = {"Content-Security-Policy": "default-src 'none'", "Cache-Control": "no-store"}
    return HTMLResponse(page, status_code=status, headers=headers)


# For browser-less tests


def sign_in_as(authorize_url: str, user_id: str, *, cancel: bool = False) -> str:
    """Open the sign-in page an app redirected to and choose `user_id` (or Cancel), as a browser
    would; return where Slack sends the browser next: the app's redirect_uri with code and state."""
    page = httpx.get(authorize_url)
    if page.status_code != 200:
        raise RuntimeError(f"the sign-in page refused ({page.status_code}): {page.text}")
    query = dict(parse_qsl(urlsplit(authorize_url).query, keep_blank_values=True))
    passed_on = {name: value for name, value in query.items() if name in PASSED_ON}
    choice = {"cancel": "1"} if cancel else {"user": user_id}
    action = urlunsplit(urlsplit(authorize_url)._replace(query=""))
    chosen = httpx.post(action, data=passed_on | choice)
    if chosen.status_code != 302:
        raise RuntimeError(f"the sign-in was refused ({chosen.status_code}): {chosen.text}")
    return chosen.headers["location"]
