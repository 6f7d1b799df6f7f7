"""OAuth 2.0 against the sandbox through google-auth-oauthlib and google-auth."""

import base64
from collections.abc import Callable
from typing import Any

import google.auth.exceptions
import google.auth.transport.requests
import pytest
import requests
from google.oauth2 import id_token
from googleapiclient.errors import HttpError
from oauthlib.oauth2.rfc6749.errors import InvalidGrantError  # type: ignore[import-untyped]

from inboxcrm.gmail import build_gmail, make_credentials
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from tests.support.sandbox import (
    AVA,
    IDENTITY,
    MODIFY,
    READONLY,
    REDIRECT_URI,
    Control,
    authorize,
    redirect_params,
)


def _request() -> Any:
    return google.auth.transport.requests.Request()


def test_code_flow_with_pkce_gives_tokens_and_a_verifiable_id_token(
    sandbox: RunningSandbox,
) -> None:
    flow, location = authorize(sandbox.url, AVA, state="xyz")
    params = redirect_params(location)
    assert params["state"] == "xyz"
    assert params["code"]
    token = flow.fetch_token(authorization_response=location)
    assert token["token_type"] == "Bearer"
    assert token["expires_in"] == 3599
    assert token["refresh_token"].startswith("1//")
    assert set(token["scope"]) == {*IDENTITY, MODIFY}
    claims = id_token.verify_token(
        token["id_token"],
        _request(),
        audience=DEFAULT_CLIENT_ID,
        certs_url=f"{sandbox.url}/oauth2/v1/certs",
    )
    assert claims["email"] == AVA
    assert claims["email_verified"] is True
    assert claims["name"] == "Ava Reed"


def _token_post(sandbox: RunningSandbox, **form: str) -> requests.Response:
    return requests.post(f"{sandbox.url}/token", data=form, timeout=5)


def test_code_is_single_use_and_checks_the_verifier(sandbox: RunningSandbox) -> None:
    flow, location = authorize(sandbox.url, AVA)
    code = redirect_params(location)["code"]
    base = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT_URI,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    wrong = _token_post(sandbox, **base, code_verifier="x" * 43)
    assert (wrong.status_code, wrong.json()["error"]) == (400, "invalid_grant")
    missing = _token_post(sandbox, **base)
    assert missing.json() == {
        "error": "invalid_grant",
        "error_description": "Missing code verifier.",
    }
    flow.fetch_token(authorization_response=location)
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(authorization_response=location)


def test_code_expires_after_ten_minutes(sandbox: RunningSandbox, control: Control) -> None:
    flow, location = authorize(sandbox.url, AVA)
    control("clock", {"advance": 601})
    with pytest.raises(InvalidGrantError):
        flow.fetch_token(authorization_response=location)


def test_client_authentication_by_form_or_basic(sandbox: RunningSandbox) -> None:
    _, location = authorize(sandbox.url, AVA)
    form = {"grant_type": "authorization_code", "code": redirect_params(location)["code"]}
    bad = _token_post(sandbox, **form, client_id=DEFAULT_CLIENT_ID, client_secret="nope")
    assert (bad.status_code, bad.json()["error"]) == (401, "invalid_client")
    basic = base64.b64encode(f"{DEFAULT_CLIENT_ID}:wrong".encode()).decode()
    answer = requests.post(
        f"{sandbox.url}/token", data=form, headers={"Authorization": f"Basic {basic}"}, timeout=5
    )
    assert answer.status_code == 401


def test_refresh_grant_echoes_scope_and_revoke_kills_it(
    sandbox: RunningSandbox, credentials: Callable[..., Any]
) -> None:
    first = credentials(AVA)
    creds = make_credentials(
        None, first.refresh_token, DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
        token_uri=f"{sandbox.url}/token", scopes=[MODIFY],
    )  # fmt: skip
    creds.refresh(_request())
    assert creds.token
    assert creds.token != first.token
    assert creds.granted_scopes == [MODIFY]
    revoked = requests.post(f"{sandbox.url}/revoke", data={"token": creds.token}, timeout=5)
    assert revoked.status_code == 200
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        creds.refresh(_request())


def test_refresh_token_only_on_first_consent_or_prompt_consent(sandbox: RunningSandbox) -> None:
    flow, location = authorize(sandbox.url, AVA)
    assert "refresh_token" in flow.fetch_token(authorization_response=location)
    flow, location = authorize(sandbox.url, AVA)
    assert "refresh_token" not in flow.fetch_token(authorization_response=location)
    flow, location = authorize(sandbox.url, AVA, prompt="consent")
    assert "refresh_token" in flow.fetch_token(authorization_response=location)


def test_expired_token_is_refreshed_by_the_client_on_401(
    sandbox: RunningSandbox, credentials: Callable[..., Any], control: Control
) -> None:
    creds = credentials(AVA)
    service = build_gmail(creds, sandbox.url)
    old = creds.token
    control("clock", {"advance": 7200})
    profile = service.users().getProfile(userId="me").execute()
    assert profile["emailAddress"] == AVA
    assert creds.token != old


def test_revoked_grant_answers_401_then_invalid_grant(
    sandbox: RunningSandbox, credentials: Callable[..., Any], control: Control
) -> None:
    service = build_gmail(credentials(AVA), sandbox.url)
    control("grants/revoke", {"email": AVA})
    with pytest.raises(google.auth.exceptions.RefreshError, match="invalid_grant"):
        service.users().getProfile(userId="me").execute()


def test_userinfo_v3_and_v1(sandbox: RunningSandbox, credentials: Callable[..., Any]) -> None:
    token = credentials(AVA).token
    headers = {"Authorization": f"Bearer {token}"}
    v3 = requests.get(f"{sandbox.url}/oauth2/v3/userinfo", headers=headers, timeout=5).json()
    assert v3["email"] == AVA
    assert v3["name"] == "Ava Reed"
    assert v3["sub"]
    v1 = requests.get(f"{sandbox.url}/v1/userinfo", headers=headers, timeout=5).json()
    assert v1["id"] == v3["sub"]
    assert v1["verified_email"] is True
    anonymous = requests.get(f"{sandbox.url}/oauth2/v3/userinfo", timeout=5)
    assert anonymous.status_code == 401


def test_read_only_token_cannot_send(gmail: Callable[..., Any]) -> None:
    service = gmail(AVA, (*IDENTITY, READONLY))
    assert service.users().labels().list(userId="me").execute()["labels"]
    raw = base64.urlsafe_b64encode(b"To: ben.okafor@northwind.io\r\nSubject: x\r\n\r\nhi").decode()
    with pytest.raises(HttpError) as caught:
        service.users().messages().send(userId="me", body={"raw": raw}).execute()
    assert caught.value.resp.status == 403
    assert caught.value.error_details[0]["reason"] == "insufficientPermissions"


def test_consent_pages_and_denial(sandbox: RunningSandbox) -> None:
    flow, _ = authorize(sandbox.url, AVA)
    url, _ = flow.authorization_url(state="s1")
    chooser = requests.get(url, timeout=5)
    assert chooser.status_code == 200
    assert AVA in chooser.text
    consent = requests.get(url + f"&authuser={AVA}", timeout=5)
    assert "Allow" in consent.text
    query = redirect_params(url + f"&authuser={AVA}")
    denied = requests.post(
        url.split("?")[0], data={**query, "decision": "deny"}, allow_redirects=False, timeout=5
    )
    assert redirect_params(denied.headers["Location"]) == {"error": "access_denied", "state": "s1"}
    allowed = requests.post(
        url.split("?")[0], data={**query, "decision": "allow"}, allow_redirects=False, timeout=5
    )
    assert "code" in redirect_params(allowed.headers["Location"])


def test_bad_client_and_redirect_uri_get_error_pages(sandbox: RunningSandbox) -> None:
    base = f"{sandbox.url}/o/oauth2/auth?response_type=code&scope=openid&login_hint={AVA}"
    unknown = requests.get(base + "&client_id=nope&redirect_uri=http://127.0.0.1/cb", timeout=5)
    assert unknown.status_code == 401
    assert "invalid_client" in unknown.text
    evil = requests.get(
        base + f"&client_id={DEFAULT_CLIENT_ID}&redirect_uri=https://evil.example/cb", timeout=5
    )
    assert evil.status_code == 400
    assert "redirect_uri_mismatch" in evil.text
