"""auth.test and the directory: users.info, users.lookupByEmail, usergroups.users.list; and who
signed in with Slack: openid.connect.token and openid.connect.userInfo (the browser's half of
Sign in with Slack, and the facts it follows, are in signin.py)."""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

from .args import Args, text
from .signin import b64url, encode_jwt, issuer, signing_key
from .spec import ApiError
from .workspace import Grant, Workspace

CODE_LIFETIME = 600  # seconds, as Slack's OAuth codes
ID_TOKEN_LIFETIME = 300  # exp - iat in Slack's example id_token
EMAIL_VERIFIED_AT = 1622128723  # the date_email_verified of Slack's example


@dataclass(frozen=True)
class Credentials:
    """What a caller authenticated with: a Bearer (or form) token, and HTTP Basic id and secret."""

    token: str | None = None
    basic: tuple[str, str] | None = None


def auth_test(ws: Workspace, args: Args) -> dict[str, Any]:
    """auth.test: who the bot token belongs to."""
    bot = ws.users.get(ws.bot_user_id)
    return {
        "ok": True,
        "url": f"https://{ws.team.domain}.slack.com/",
        "team": ws.team.name,
        "user": bot.name if bot else "warroom",
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "is_enterprise_install": False,
    }


def user_info(ws: Workspace, args: Args) -> dict[str, Any]:
    """users.info."""
    return {"ok": True, "user": ws.user(text(args, "user")).to_api()}


def lookup_by_email(ws: Workspace, args: Args) -> dict[str, Any]:
    """users.lookupByEmail: e-mail addresses match case-insensitively."""
    email = text(args, "email").lower()
    for user in ws.users.values():
        if user.email and user.email.lower() == email:
            return {"ok": True, "user": user.to_api()}
    raise ApiError("users_not_found", f"[ERROR] nobody has the address '{email}'")


def usergroup_users(ws: Workspace, args: Args) -> dict[str, Any]:
    """usergroups.users.list."""
    group = ws.usergroups.get(text(args, "usergroup"))
    if group is None:
        raise ApiError("no_such_subteam")
    return {"ok": True, "users": list(group)}


def exchange_code(ws: Workspace, args: Args, credentials: Credentials) -> dict[str, Any]:
    """openid.connect.token: a sign-in code for a user token and an id_token."""
    basic_id, basic_secret = credentials.basic or ("", "")
    client_id = text(args, "client_id") or basic_id
    if client_id != ws.client_id:
        raise ApiError("invalid_client_id", f"[ERROR] client_id '{client_id}' is not the app's")
    if not hmac.compare_digest(text(args, "client_secret") or basic_secret, ws.client_secret):
        raise ApiError("bad_client_secret")
    if text(args, "grant_type", "authorization_code") != "authorization_code":
        raise ApiError("invalid_grant_type", "[ERROR] only authorization_code: no token rotation here")
    grant = _redeem(ws, text(args, "code"), text(args, "redirect_uri"), text(args, "code_verifier"))
    access_token = "xoxp-" + secrets.token_hex(16)
    ws.user_tokens[access_token] = grant
    claims = id_token_claims(ws, grant, client_id=client_id, access_token=access_token)
    return {
        "ok": True,
        "access_token": access_token,
        "token_type": "Bearer",
        "id_token": encode_jwt(signing_key(ws), claims),
    }


def _redeem(ws: Workspace, code: str, redirect_uri: str, verifier: str) -> Grant:
    grant = ws.codes.get(code)
    if grant is None or time.time() - grant.at > CODE_LIFETIME:
        ws.codes.pop(code, None)
        raise ApiError("invalid_code", "[ERROR] the code is unknown, used already, or over 10 minutes old")
    if redirect_uri != grant.redirect_uri:
        raise ApiError(
            "bad_redirect_uri", f"[ERROR] redirect_uri must be '{grant.redirect_uri}', as sent to authorize"
        )
    if grant.challenge is not None and not _verifies(grant.challenge, verifier):
        raise ApiError("invalid_code_verifier", "[ERROR] code_verifier does not match the code_challenge")
    del ws.codes[code]  # a code works once
    return grant


def _verifies(challenge: tuple[str, str], verifier: str) -> bool:
    method, expected = challenge
    derived = b64url(hashlib.sha256(verifier.encode()).digest()) if method == "S256" else verifier
    return bool(verifier) and hmac.compare_digest(derived, expected)


def signed_in_user(ws: Workspace, args: Args, credentials: Credentials) -> dict[str, Any]:
    """openid.connect.userInfo: the person behind a user token (server.py has checked it), as
    the directory describes them now."""
    grant = ws.user_tokens[credentials.token or ""]
    current = ws.users.get(grant.user.id) or ws.outsiders.get(grant.user.id) or grant.user
    return {"ok": True, **identity_claims(replace(grant, user=current))}


def id_token_claims(ws: Workspace, grant: Grant, *, client_id: str, access_token: str) -> dict[str, Any]:
    """The id_token's claims for a redeemed code."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer(ws),
        "sub": grant.user.id,
        "aud": client_id,
        "exp": now + ID_TOKEN_LIFETIME,
        "iat": now,
        "auth_time": int(grant.at),
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    # OpenID Connect Core 3.1.3.6: the left half of the token's SHA-256, base64url.
    claims["at_hash"] = b64url(hashlib.sha256(access_token.encode("ascii")).digest()[:16])
    return claims | identity_claims(grant)


def identity_claims(grant: Grant) -> dict[str, Any]:
    """Who signed in: Slack's ids always, e-mail with the email scope, the rest with profile."""
    user, team = grant.user, grant.team
    claims: dict[str, Any] = {
        "sub": user.id,
        "https://slack.com/user_id": user.id,
        "https://slack.com/team_id": team.id,
    }
    if "email" in grant.scopes and user.email:
        claims |= {"email": user.email, "email_verified": True, "date_email_verified": EMAIL_VERIFIED_AT}
    if "profile" in grant.scopes:
        given, _, family = user.real_name.partition(" ")
        claims |= {
            "name": user.real_name,
            "picture": f"https://avatars.example.com/{user.id}_192.png",
            "given_name": given,
            "family_name": family,
            "locale": "en-US",
            "https://slack.com/team_name": team.name,
            "https://slack.com/team_domain": team.domain,
        }
    return claims


HANDLERS = {
    "auth.test": auth_test,
    "users.info": user_info,
    "users.lookupByEmail": lookup_by_email,
    "usergroups.users.list": usergroup_users,
}
# These take the caller's credentials too: the token step has no bot token, userInfo a user one.
SIGNIN_HANDLERS = {
    "openid.connect.token": exchange_code,
    "openid.connect.userInfo": signed_in_user,
}
