"""Sign in with Google: the consent redirect, the code exchange and who signed in.

Everything Google-specific about OAuth stays here; the accounts package gets plain data
(an Identity and the token JSON to encrypt).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from google.auth.transport.requests import AuthorizedSession

from inboxcrm.gmail.auth import SCOPES, make_credentials, make_flow

GMAIL_MODIFY = "https://www.googleapis.com/auth/gmail.modify"


class SigninError(Exception):
    """Google refused or the answer was unusable; the message is safe to show."""


@dataclass(frozen=True)
class GoogleClient:
    """Our OAuth client and Google's addresses (real Google, or the sandbox)."""

    client_id: str
    client_secret: str
    auth_uri: str
    token_uri: str
    userinfo_uri: str
    revoke_uri: str
    api_root: str


@dataclass(frozen=True)
class Identity:
    email: str
    name: str
    verified: bool


@dataclass(frozen=True)
class Grant:
    identity: Identity
    token_json: str  # refresh token and all: encrypt before storing, never log
    scopes: frozenset[str]

    @property
    def can_use_gmail(self) -> bool:
        return GMAIL_MODIFY in self.scopes


def configure_oauthlib(token_uri: str) -> None:
    """oauthlib's process-wide switches. Scopes may come back fewer (granular consent) or
    more (include_granted_scopes): we read the granted ones instead of failing. Plain http
    is allowed only for a token URI on loopback: the sandbox."""
    os.environ["OAUTHLIB_RELAX_TOKEN_SCOPE"] = "1"  # noqa: S105  (a switch, not a secret)
    host = urlsplit(token_uri).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback and urlsplit(token_uri).scheme == "http":
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"


def _flow(client: GoogleClient, redirect_uri: str) -> Any:
    return make_flow(
        client.client_id,
        client.client_secret,
        redirect_uri,
        auth_uri=client.auth_uri,
        token_uri=client.token_uri,
    )


def start(client: GoogleClient, redirect_uri: str, login_hint: str = "") -> tuple[str, str, str]:
    """The consent URL, its state and the PKCE verifier to keep until the callback."""
    flow = _flow(client, redirect_uri)
    extra = {"login_hint": login_hint} if login_hint else {}
    # offline + consent: Google only hands out a refresh token on a consent screen.
    url, state = flow.authorization_url(
        access_type="offline", include_granted_scopes="true", prompt="consent", **extra
    )
    return url, state, flow.code_verifier


def finish(client: GoogleClient, redirect_uri: str, verifier: str, code: str) -> Grant:
    """Trade the code for tokens and ask Google who this is (the caller checked `state`)."""
    flow = _flow(client, redirect_uri)
    flow.code_verifier = verifier
    try:
        flow.fetch_token(code=code)
    except Exception as exc:  # oauthlib raises many kinds; none should reach the user raw
        raise SigninError(f"Google did not accept the sign-in: {type(exc).__name__}") from exc
    credentials = flow.credentials
    answer = AuthorizedSession(credentials).get(  # type: ignore[no-untyped-call]
        client.userinfo_uri, timeout=15
    )
    if answer.status_code != 200:
        raise SigninError(f"Google did not say who signed in (HTTP {answer.status_code})")
    info = answer.json()
    email = str(info.get("email", "")).strip().lower()
    if not email:
        raise SigninError("Google did not share an email address; allow the email permission")
    identity = Identity(
        email=email,
        name=str(info.get("name") or ""),
        verified=bool(info.get("email_verified", info.get("verified_email", False))),
    )
    return Grant(identity, credentials.to_json(), frozenset(credentials.granted_scopes or SCOPES))


def credentials_from_json(client: GoogleClient, token_json: str) -> Any:
    """Credentials for a stored grant, with our token URI (not the one saved in the JSON).
    The access token is reused until its expiry, rather than refreshed on every pass."""
    data = json.loads(token_json)
    expiry = data.get("expiry")
    return make_credentials(
        data.get("token"),
        data.get("refresh_token"),
        client.client_id,
        client.client_secret,
        token_uri=client.token_uri,
        scopes=data.get("scopes"),
        expiry=dt.datetime.fromisoformat(expiry.rstrip("Z")) if expiry else None,
    )


def revoke(client: GoogleClient, token_json: str) -> bool:
    """Revoke the grant at Google; False when Google no longer knew it (already revoked)."""
    import requests

    data = json.loads(token_json)
    token = data.get("refresh_token") or data.get("token")
    answer = requests.post(client.revoke_uri, data={"token": token}, timeout=15)
    return answer.status_code == 200
