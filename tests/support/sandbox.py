"""The sandbox Google as tests see it: its seeded accounts, the scopes, its control API,
and the OAuth flow run by hand up to Google's redirect."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from inboxcrm.gmail import make_flow
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

AVA = "ava.reed@northwind.io"
BEN = "ben.okafor@northwind.io"
MIA = "mia.chen@northwind.io"
MODIFY = "https://www.googleapis.com/auth/gmail.modify"
READONLY = "https://www.googleapis.com/auth/gmail.readonly"
IDENTITY = (
    "openid",
    "https://www.googleapis.com/auth/userinfo.email",
    "https://www.googleapis.com/auth/userinfo.profile",
)
REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"


class Control:
    """Plain HTTP calls to the /_sandbox/ control API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, path: str, data: dict[str, Any] | None = None, method: str = "POST") -> Any:
        answer = requests.request(method, f"{self.url}/_sandbox/{path}", json=data, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


def deliver(control: Control, to: str, raw: str, sent: bool = False) -> None:
    """Put a raw message in an account's Gmail: in its inbox, or as mail it sent."""
    control("deliver", {"to": to, "eml": raw, **({"labelIds": ["SENT"]} if sent else {})})


def authorize(
    sandbox_url: str,
    email: str,
    scopes: tuple[str, ...] = (*IDENTITY, MODIFY),
    **params: str,
) -> tuple[Any, str]:
    """Run the real Flow up to the redirect; returns (flow, redirect URL with the code)."""
    flow = make_flow(
        DEFAULT_CLIENT_ID,
        DEFAULT_CLIENT_SECRET,
        REDIRECT_URI,
        scopes=scopes,
        auth_uri=f"{sandbox_url}/o/oauth2/auth",
        token_uri=f"{sandbox_url}/token",
    )
    url, _state = flow.authorization_url(login_hint=email, **{"access_type": "offline", **params})
    answer = requests.get(url, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return flow, answer.headers["Location"]


def redirect_params(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def gmail_ids(service: Any) -> set[str]:
    """Every message id Gmail lists for the account, all pages."""
    ids: set[str] = set()
    token = None
    while True:
        page = (
            service.users().messages().list(userId="me", pageToken=token, maxResults=500).execute()
        )
        ids |= {m["id"] for m in page.get("messages", [])}
        token = page.get("nextPageToken")
        if not token:
            return ids


def recipient(control: Control, address: str, behaviour: str, **params: Any) -> None:
    """Make an outside address behave one way: bounce (`unknown`, `full`, ...), auto-reply,
    reply; it exists from then on."""
    control("recipients", {"address": address, "behaviour": behaviour, **params})


def audience(control: Control, **config: Any) -> None:
    """Set the simulated audience: `rates`, `delays`, `people` ({address: [actions]}), `seed`."""
    control("audience", config)


def run_due(control: Control, advance: float = 0.0) -> list[dict[str, Any]]:
    """Move the sandbox clock by `advance` seconds, then let the outside world do what is due."""
    return list(control("run", {"advance": advance})["done"])


def audience_log(control: Control) -> list[dict[str, Any]]:
    """Everything the outside world did so far, with what the app answered."""
    return list(control("audience", method="GET")["log"])
