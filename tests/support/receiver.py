"""A webhook receiver on loopback, as a customer would run one: it records each delivery
and checks its signature; `answers` says how it behaves (a status, a hang, a redirect, a
huge body), one answer per request in turn, the last one repeated."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from inboxcrm.webhooks.signing import HEADER, verify


@dataclass
class Received:
    body: dict[str, Any]
    signed: bool
    headers: dict[str, str]


@dataclass
class Receiver:
    url: str
    secret: str = ""
    answers: list[str] = field(default_factory=lambda: ["200"])
    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[str]:
        return [r.body["id"] for r in self.received]


@contextmanager
def receiver() -> Iterator[Receiver]:
    state = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive: the sender closes first, as it should

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with state.lock:
                index = len(state.received)
                answer = state.answers[min(index, len(state.answers) - 1)]
                state.received.append(
                    Received(
                        json.loads(raw),
                        verify(state.secret, self.headers.get(HEADER, ""), raw, int(time.time())),
                        dict(self.headers),
                    )
                )
            if answer == "hang":
                time.sleep(8)
                answer = "200"
            if answer == "redirect":
                self.send_response(302)
                self.send_header("Location", "http://127.0.0.1:9/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            body = b"x" * (10 * 1024 * 1024) if answer == "huge" else b'{"ok": true}'
            self.send_response(200 if answer == "huge" else int(answer))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.wfile.write(body)  # the sender may stop reading: as it should

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer.request_queue_size = 64  # the sender's eight at once, never dropped
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
