"""OAuth 2.0 helpers: the consent flow and credentials, with explicit endpoints."""

import datetime as dt
from collections.abc import Sequence
from typing import Any

from google.oauth2.credentials import Credentials
from google_auth_oauthlib.flow import Flow

AUTH_URI = "https://accounts.google.com/o/oauth2/auth"
TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - a URL, not a secret
SCOPES = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
    "https://www.googleapis.com/auth/gmail.modify",
)


def make_flow(
    client_id: str,
    client_secret: str,
    redirect_uri: str,
    scopes: Sequence[str] = SCOPES,
    auth_uri: str = AUTH_URI,
    token_uri: str = TOKEN_URI,
) -> Any:
    """A web-server Flow; it adds PKCE itself, so keep `flow.code_verifier` until the callback."""
    config = {
        "web": {
            "client_id": client_id,
            "client_secret": client_secret,
            "auth_uri": auth_uri,
            "token_uri": token_uri,
            "redirect_uris": [redirect_uri],
        }
    }
    return Flow.from_client_config(config, scopes=list(scopes), redirect_uri=redirect_uri)


def make_credentials(
    token: str | None,
    refresh_token: str | None,
    client_id: str,
    client_secret: str,
    token_uri: str = TOKEN_URI,
    scopes: Sequence[str] | None = SCOPES,
    expiry: dt.datetime | None = None,
) -> Any:
    """Credentials with `token_uri` set explicitly (from_authorized_user_info drops it).
    `expiry` is naive UTC, as google-auth keeps it."""
    return Credentials(  # type: ignore[no-untyped-call]
        token=token,
        expiry=expiry,
        refresh_token=refresh_token,
        token_uri=token_uri,
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(scopes) if scopes else None,
    )
