"""The sandbox as a WSGI app, and ways to run it: in a thread (tests, demo) or the CLI."""

import socket
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from inboxcrm.sandbox import control, oauth
from inboxcrm.sandbox.api.call import ApiRequest, ApiResponse
from inboxcrm.sandbox.batch import handle_batch
from inboxcrm.sandbox.faults import Faults
from inboxcrm.sandbox.gmail_api import GmailApi, apply_fault
from inboxcrm.sandbox.outside import Outside
from inboxcrm.sandbox.quota import Quota
from inboxcrm.sandbox.seed import apply as apply_seed
from inboxcrm.sandbox.state import Options, State
from inboxcrm.sandbox.tokens import jwks, pem_certs
from inboxcrm.sandbox.web import json_response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

_USERINFO = {
    "/oauth2/v3/userinfo": "v3",
    "/v1/userinfo": "v1",
    "/oauth2/v1/userinfo": "v1",
    "/oauth2/v2/userinfo": "v2",
}


class Sandbox:
    """The whole local Google: state plus the HTTP front door."""

    def __init__(self, seed: str = "empty", audience: bool = False, **options: Any) -> None:
        # Options given at start-up survive resets; a reset's options apply on top.
        self._start_options = dict(options)
        self._audience = audience  # the demo's recipients and audience, on every reset
        self.state = State(Options(**options))
        self.quota = Quota(self.state.options, self.state.clock)
        self.faults = Faults()
        self.api = GmailApi(self.state, self.quota, self.faults)
        self.outside = Outside(self.state)
        self.state.outside = self.outside
        self.reset(seed)

    def reset(self, seed: str = "empty", options: dict[str, Any] | None = None) -> None:
        with self.state.lock:
            self.state.clock.reset()
            self.state.options.update(vars(Options()))
            self.state.options.update(self._start_options)
            self.state.options.update(options or {})
            self.state.clear()
            self.quota.reset()
            self.faults.clear()
            self.outside.clear()
            if self._audience:
                self.outside.demo()
            apply_seed(self.state, seed)

    def __call__(
        self, environ: "WSGIEnvironment", start_response: "StartResponse"
    ) -> Iterable[bytes]:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    def dispatch(self, request: Request) -> Response:
        path = request.path
        if path.startswith(("/gmail/v1/", "/upload/")):
            return self._api(request, _api_path(path))
        if path in ("/batch", "/batch/gmail/v1"):
            return self._batch(request)
        if path.startswith("/_sandbox/"):
            return control.handle(self, request)
        if path in ("/o/oauth2/auth", "/o/oauth2/v2/auth"):
            return oauth.authorize(self.state, request)
        if path in ("/token", "/o/oauth2/token", "/oauth2/v4/token") and request.method == "POST":
            return oauth.token(self.state, request)
        if path in ("/revoke", "/o/oauth2/revoke") and request.method == "POST":
            return oauth.revoke(self.state, request)
        if path in _USERINFO:
            return oauth.userinfo(self.state, request, _USERINFO[path])
        if path == "/oauth2/v3/certs":
            return json_response(jwks())
        if path == "/oauth2/v1/certs":
            return json_response(pem_certs())
        if path == "/":
            return Response("Sandbox Google\n", content_type="text/plain")
        return Response("Not Found", status=404, content_type="text/html")

    def _api(self, request: Request, path: str) -> Response:
        api_request = ApiRequest(
            request.method, path, request.args, request.headers, request.get_data()
        )
        return _to_response(request, self.api.handle(api_request))

    def _batch(self, request: Request) -> Response:
        if request.method != "POST":
            return Response("Method Not Allowed", status=405)
        fault = self.faults.take("batch", request.path, None)
        if fault is not None and (answer := apply_fault(fault)) is not None:
            return _to_response(request, answer)
        body = request.get_data()
        return _to_response(request, handle_batch(self.api, request.content_type or "", body))


def _api_path(path: str) -> str:
    """The client joins rootUrl, "upload/" and the media path: collapse that to one form."""
    if not path.startswith("/upload/"):
        return path
    rest = path.removeprefix("/upload/").lstrip("/").removeprefix("upload/")
    return "/upload/" + rest


def _to_response(request: Request, answer: ApiResponse) -> Response:
    if answer.drop:
        sock = request.environ.get("werkzeug.socket")
        if isinstance(sock, socket.socket):
            sock.shutdown(socket.SHUT_RDWR)
        return Response(b"", status=500)
    return Response(answer.body, status=answer.status, headers=answer.headers)


class _QuietHandler(WSGIRequestHandler):
    """No access log in-process: tests and benchmarks make thousands of calls."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass


@dataclass
class RunningSandbox:
    """A sandbox served from a background thread; its URLs are what the app configures."""

    url: str
    sandbox: Sandbox
    _server: Any
    _thread: threading.Thread

    @property
    def state(self) -> State:
        return self.sandbox.state

    @property
    def api_root(self) -> str:
        return self.url + "/"

    @property
    def auth_uri(self) -> str:
        return self.url + "/o/oauth2/auth"

    @property
    def token_uri(self) -> str:
        return self.url + "/token"

    @property
    def revoke_uri(self) -> str:
        return self.url + "/revoke"

    def stop(self) -> None:
        self.sandbox.outside.stop()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def start_sandbox(
    host: str = "127.0.0.1",
    port: int = 0,
    seed: str = "empty",
    audience: bool = False,
    **options: Any,
) -> RunningSandbox:
    """Serve a sandbox from a background thread; returns once it accepts connections.

    With `audience`, outside recipients bounce, answer, open and click at the demo's rates,
    run by a thread on the sandbox clock (outside.py)."""
    sandbox = Sandbox(seed, audience=audience, **options)
    if audience:
        sandbox.outside.start()
    server = make_server(host, port, sandbox, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="sandbox-google", daemon=True)
    thread.start()
    url = f"http://{host}:{server.server_port}"
    return RunningSandbox(url, sandbox, server, thread)


def serve(host: str, port: int, seed: str, audience: bool = False, **options: Any) -> None:
    """Run in the foreground until interrupted (the CLI)."""
    sandbox = Sandbox(seed, audience=audience, **options)
    if audience:
        sandbox.outside.start()
    server = make_server(host, port, sandbox, threaded=True)
    print(f"Sandbox Google listening on http://{host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
