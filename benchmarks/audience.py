"""The sandbox's simulated audience at the demo's rates, against a stand-in for the app.

Sends campaign emails to outside recipients through the real client, moves the sandbox
clock a day and runs what is due. Prints one JSON object: sends, the audience's requests
and the mail that came back, the requests per second the audience makes, each action's
observed share against its rate, and whether a second run does exactly the same.
"""

import hashlib
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests

from inboxcrm.gmail import build_gmail, make_credentials
from inboxcrm.sandbox import start_sandbox
from inboxcrm.sandbox.mime import b64url
from inboxcrm.sandbox.outside import DEMO_AUDIENCE, DEMO_RECIPIENTS
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.sandbox
from benchmarks.sandbox import tokens

USER = "ava.reed@northwind.io"
SENDS = 400


class _App(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.send_response(302 if self.path.startswith("/c/") else 200)
        self.send_header("Location", "https://example.com/")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_POST = _answer

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _campaign(app: str, to: str, n: int) -> bytes:
    html = (
        f'<p>Hi,</p><p><a href="{app}/c/{n}/1">Pricing</a></p>'
        f'<div style="display:none"><a href="{app}/c/{n}/trap">.</a></div>'
        f'<p><a href="{app}/u/{n}">Unsubscribe</a></p><img src="{app}/o/{n}.gif">'
    )
    return (
        f"From: {USER}\r\nTo: {to}\r\nSubject: Our spring update\r\nMIME-Version: 1.0\r\n"
        f"List-Unsubscribe: <{app}/u/{n}>\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        f"Content-Type: text/html; charset=utf-8\r\n\r\n{html}\r\n"
    ).encode()


def run(url: str, app: str) -> dict[str, Any]:
    control = f"{url}/_sandbox"
    requests.post(f"{control}/reset", json={"seed": "empty"}, timeout=10).raise_for_status()
    leads = [f"lead{n}@customer{n % 37}.example" for n in range(SENDS)]
    requests.post(f"{control}/contacts", json={"emails": leads}, timeout=10)
    requests.post(f"{control}/recipients", json={"rates": DEMO_RECIPIENTS}, timeout=10)
    requests.post(f"{control}/audience", json={"rates": DEMO_AUDIENCE}, timeout=10)
    token = tokens(url)
    creds = make_credentials(
        token["access_token"], token["refresh_token"], DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
        token_uri=f"{url}/token", scopes=None,
    )  # fmt: skip
    messages = build_gmail(creds, url).users().messages()
    for n, lead in enumerate(leads):
        messages.send(userId="me", body={"raw": b64url(_campaign(app, lead, n))}).execute()
    started = time.perf_counter()
    done = requests.post(f"{control}/run", json={"advance": 86400}, timeout=600).json()["done"]
    seconds = time.perf_counter() - started
    fetched = [d for d in done if d["method"]]
    shares = {
        what: round(len({d["recipient"] for d in done if d["what"] == what}) / SENDS, 3)
        for what in (*DEMO_AUDIENCE, *DEMO_RECIPIENTS)
    }
    truth = sorted((d["what"], d["recipient"], d["method"] or "", d["url"] or "") for d in done)
    return {
        "requests": len(fetched),
        "mail_back": len(done) - len(fetched),
        "non_2xx_3xx": sum(1 for d in fetched if not 200 <= (d["status"] or 0) < 400),
        "requests_per_s": round(len(fetched) / seconds, 1),
        "shares": shares,
        "fingerprint": hashlib.sha256(json.dumps(truth).encode()).hexdigest()[:16],
    }


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _App)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    google = start_sandbox(quota_units_per_minute=0)
    try:
        app = f"http://127.0.0.1:{server.server_port}"
        first = run(google.url, app)
        second = run(google.url, app)
        print(json.dumps({
            "benchmark": "audience", "sends": SENDS, **first,
            "rates": {**DEMO_AUDIENCE, **DEMO_RECIPIENTS},
            "deterministic": first["fingerprint"] == second["fingerprint"],
        }))  # fmt: skip
    finally:
        google.stop()
        server.shutdown()


if __name__ == "__main__":
    main()
