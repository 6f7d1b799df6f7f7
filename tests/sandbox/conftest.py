"""One in-process sandbox per session on a free loopback port, reset before each test."""

import os
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from inboxcrm.gmail import build_gmail, make_flow
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

# oauthlib refuses plain http; the sandbox is loopback only, so allow it for these tests.
os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"

REDIRECT_URI = "http://127.0.0.1:9/oauth/callback"
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


class Control:
    """Plain HTTP calls to the /_sandbox/ control API."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __call__(self, path: str, data: dict[str, Any] | None = None, method: str = "POST") -> Any:
        answer = requests.request(method, f"{self.url}/_sandbox/{path}", json=data, timeout=10)
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(autouse=True)
def control(sandbox: RunningSandbox) -> Control:
    ctl = Control(sandbox.url)
    ctl("reset", {"seed": "empty"})
    return ctl


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


@pytest.fixture
def credentials(sandbox: RunningSandbox) -> Callable[..., Any]:
    def make(email: str = AVA, scopes: tuple[str, ...] = (*IDENTITY, MODIFY)) -> Any:
        flow, location = authorize(sandbox.url, email, scopes)
        flow.fetch_token(authorization_response=location)
        return flow.credentials

    return make


@pytest.fixture
def gmail(sandbox: RunningSandbox, credentials: Callable[..., Any]) -> Callable[..., Any]:
    """A real googleapiclient Gmail service for a sandbox account."""

    def make(email: str = AVA, scopes: tuple[str, ...] = (*IDENTITY, MODIFY)) -> Any:
        return build_gmail(credentials(email, scopes), sandbox.url)

    return make
