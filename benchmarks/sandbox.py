"""Throughput of the sandbox Google through the real client library, quota off.

Prints one JSON object: single messages.get requests per second, and messages per
second through 50-call batches. The sandbox runs in its own process, as in the demo.
"""

import json
import subprocess
import sys
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from inboxcrm.gmail import build_gmail, make_credentials
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

USER = "ava.reed@northwind.io"
REDIRECT = "http://127.0.0.1:9/cb"
MESSAGES = 500
SINGLE_CALLS = 500
BATCHES = 40
BATCH_SIZE = 50
SERVER = (
    "from inboxcrm.sandbox.server import serve;"
    "serve('127.0.0.1', 0, 'empty', quota_units_per_minute=0)"
)


def tokens(
    url: str,
    scope: str = "https://www.googleapis.com/auth/gmail.modify",
    email: str = USER,
    http: Any = requests,
) -> dict[str, Any]:
    """An address's tokens (Ava's by default) from the sandbox's authorization-code flow:
    its login hint approves an account it has. `http` may be a requests.Session."""
    params = {
        "client_id": DEFAULT_CLIENT_ID,
        "redirect_uri": REDIRECT,
        "response_type": "code",
        "scope": scope,
        "login_hint": email,
        "access_type": "offline",
    }
    answer = http.get(f"{url}/o/oauth2/auth", params=params, allow_redirects=False, timeout=30)
    code = parse_qs(urlsplit(answer.headers["Location"]).query)["code"][0]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": DEFAULT_CLIENT_ID,
        "client_secret": DEFAULT_CLIENT_SECRET,
    }
    token: dict[str, Any] = http.post(f"{url}/token", data=form, timeout=30).json()
    return token


def _seed(url: str) -> None:
    body = "Hello,\r\n\r\n" + "Let us talk about the pilot next week. " * 20
    for i in range(MESSAGES):
        eml = f"From: lead{i}@acme.example\r\nTo: {USER}\r\nSubject: Lead {i}\r\n\r\n{body}"
        requests.post(f"{url}/_sandbox/deliver", json={"to": USER, "eml": eml}, timeout=5)


def run(url: str) -> dict[str, float]:
    _seed(url)
    token = tokens(url)
    creds = make_credentials(
        token["access_token"], token["refresh_token"], DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
        token_uri=f"{url}/token", scopes=None,
    )  # fmt: skip
    service = build_gmail(creds, url)
    messages = service.users().messages()
    ids = [m["id"] for m in messages.list(userId="me", maxResults=500).execute()["messages"]]

    started = time.perf_counter()
    for i in range(SINGLE_CALLS):
        messages.get(userId="me", id=ids[i % len(ids)]).execute()
    single = SINGLE_CALLS / (time.perf_counter() - started)

    started = time.perf_counter()
    fetched = 0
    for b in range(BATCHES):
        batch = service.new_batch_http_request()
        for i in range(BATCH_SIZE):
            batch.add(messages.get(userId="me", id=ids[(b * BATCH_SIZE + i) % len(ids)]))
        batch.execute()
        fetched += BATCH_SIZE
    batched = fetched / (time.perf_counter() - started)
    return {
        "single_get_requests_per_s": round(single, 1),
        "batch50_get_messages_per_s": round(batched, 1),
    }


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        url = line.rsplit(" ", 1)[-1].strip()
        print(json.dumps({"benchmark": "sandbox", "quota": "off", **run(url)}))
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
