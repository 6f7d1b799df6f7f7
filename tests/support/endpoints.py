"""A tiny HTTP server standing in for the app's tracking and unsubscribe endpoints, for
sandbox tests: it records every request and answers as the app would (an image, a
redirect, a page, a 200 to the one-click POST)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501


@dataclass
class Hit:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Endpoints:
    """Serves /o/* (a GIF), /c/* (302 to example.com), /u/* (a page, or 200 to a POST)."""

    def __init__(self) -> None:
        self.hits: list[Hit] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                hits.append(Hit(self.command, self.path, dict(self.headers.items()), body))
                if self.path.startswith("/o/"):
                    self._send(200, "image/gif", GIF)
                elif self.path.startswith("/c/"):
                    self.send_response(302)
                    self.send_header("Location", "https://example.com/pricing")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                elif self.path.startswith("/u/"):
                    self._send(200, "text/html", b"<form method=post><button>Unsubscribe")
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, kind: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            do_GET = do_HEAD = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
