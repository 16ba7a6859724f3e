"""Sign in with Slack (OpenID Connect) through Authlib: the authorize URL with its state and
nonce, the code exchanged at `openid.connect.token`, and the id_token checked against Slack's
keys (signature, issuer, audience, expiry, nonce, at_hash).

Every address is derived from `SLACK_API_URL`: the authorize page and the keys live on the same
scheme and host (`/openid/connect/authorize`, `/openid/connect/keys`), the issuer is that host,
and the token exchange is a Web API method, so the simulator serves all of it too.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

from bot.errors import WarroomError

SCOPES = "openid profile email"
TEAM_CLAIM = "https://slack.com/team_id"
KEYS_CACHE_SECONDS = 3600
TIMEOUT_SECONDS = 10


class SignInFailed(WarroomError):
    """Slack did not vouch for the person: the message says why, in words for them."""


@dataclass(frozen=True)
class Authorization:
    """Where to send the browser, and what its return must carry back."""

    url: str
    state: str
    nonce: str


@dataclass(frozen=True)
class Identity:
    """Who Slack says signed in."""

    user_id: str
    team_id: str
    name: str
    email: str | None


class SlackSignIn:
    """The OpenID Connect client of one Slack app."""

    def __init__(self, api_url: str, client_id: str, client_secret: str, redirect_uri: str) -> None:
        parts = urlsplit(api_url)
        self.issuer = f"{parts.scheme}://{parts.netloc}"
        self.authorize_url = f"{self.issuer}/openid/connect/authorize"
        self._keys_url = f"{self.issuer}/openid/connect/keys"
        self._token_url = f"{api_url}openid.connect.token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._redirect_uri = redirect_uri
        self._keys: tuple[float, KeySet] | None = None

    def _client(self) -> AsyncOAuth2Client:
        return AsyncOAuth2Client(
            client_id=self._client_id,
            client_secret=self._client_secret,
            scope=SCOPES,
            redirect_uri=self._redirect_uri,
            token_endpoint_auth_method="client_secret_post",
            timeout=TIMEOUT_SECONDS,
            follow_redirects=False,
        )

    def authorization(self, team_id: str | None) -> Authorization:
        """A fresh authorize URL (for our workspace when `team_id` is known)."""
        state, nonce = generate_token(32), generate_token(32)
        extra = {"team": team_id} if team_id else {}
        client = self._client()
        url, _ = client.create_authorization_url(self.authorize_url, state=state, nonce=nonce, **extra)
        return Authorization(url, state, nonce)

    async def identity(self, code: str, nonce: str) -> Identity:
        """Exchange the code and check the id_token it brings."""
        async with self._client() as client:
            try:
                token = await client.fetch_token(self._token_url, code=code, grant_type="authorization_code")
            except OAuthError as exc:
                raise SignInFailed(f"Slack refused the sign-in ({exc.error}). Try again.") from None
            except httpx.HTTPError as exc:
                raise SignInFailed(f"Slack could not be reached to finish the sign-in ({exc}).") from None
            if "id_token" not in token:
                raise SignInFailed("Slack's answer carried no identity (id_token). Try again.")
            try:
                claims = await self._checked_claims(client, token, nonce)
            except httpx.HTTPError as exc:
                raise SignInFailed(f"Slack's keys could not be fetched ({exc}). Try again.") from None
        return Identity(
            user_id=str(claims["sub"]),
            team_id=str(claims.get(TEAM_CLAIM, "")),
            name=str(claims.get("name") or claims["sub"]),
            email=claims.get("email"),
        )

    async def _checked_claims(self, client: AsyncOAuth2Client, token: dict[str, Any], nonce: str) -> Any:
        registry, signed = JWSRegistry(algorithms=["RS256"]), token["id_token"]
        try:
            try:
                decoded = jwt.decode(signed, await self._key_set(client), registry=registry)
            except JoseError:  # Slack may have rotated its keys: fetch them once more
                decoded = jwt.decode(signed, await self._key_set(client, fresh=True), registry=registry)
            claims = CodeIDToken(
                decoded.claims,
                decoded.header,
                {"iss": {"essential": True, "values": [self.issuer]}},
                {"nonce": nonce, "client_id": self._client_id, "access_token": token.get("access_token")},
            )
            claims.validate(leeway=60)
        except (JoseError, ValueError) as exc:  # a bad signature, issuer, audience, nonce, expiry …
            raise SignInFailed(f"Slack's identity did not check out ({exc}). Try again.") from None
        return claims

    async def _key_set(self, client: AsyncOAuth2Client, *, fresh: bool = False) -> KeySet:
        if self._keys is None or fresh or time.monotonic() - self._keys[0] > KEYS_CACHE_SECONDS:
            response = await client.request("GET", self._keys_url, withhold_token=True)
            response.raise_for_status()
            self._keys = (time.monotonic(), KeySet.import_key_set(response.json()))
        return self._keys[1]
