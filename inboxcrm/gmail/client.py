"""Gmail service objects built from the discovery document the client library ships.

`build_from_document` with `rootUrl` replaced is the only way to move every URL at
once: `client_options={"api_endpoint": ...}` leaves batch and media upload on Google.
"""

import copy
import functools
import json
import threading
import weakref
from importlib import resources
from typing import Any

import google_auth_httplib2
import httplib2
from googleapiclient.discovery import build_from_document
from googleapiclient.http import build_http

API_ROOT = "https://gmail.googleapis.com/"


@functools.cache
def _shipped_document() -> dict[str, Any]:
    path = resources.files("googleapiclient") / "discovery_cache/documents/gmail.v1.json"
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def discovery_document(api_root: str = API_ROOT) -> dict[str, Any]:
    """The shipped gmail.v1 document with every URL rooted at `api_root`."""
    document = copy.deepcopy(_shipped_document())
    root = api_root.rstrip("/") + "/"
    document["rootUrl"] = root
    document["mtlsRootUrl"] = root
    document["baseUrl"] = root + document["servicePath"]
    return document


def build_gmail(credentials_or_http: Any, api_root: str = API_ROOT) -> Any:
    """A `gmail v1` service. Pass google-auth Credentials or an authorized http object.

    httplib2 is not thread-safe: build one service per thread and reuse its resources.
    """
    document = discovery_document(api_root)
    if hasattr(credentials_or_http, "request") and not hasattr(credentials_or_http, "token"):
        return build_from_document(document, http=credentials_or_http)
    return build_from_document(document, credentials=credentials_or_http)


_local = threading.local()
_users: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _thread_http() -> httplib2.Http:
    http: httplib2.Http | None = getattr(_local, "http", None)
    if http is None:
        http = _local.http = build_http()
    return http


def thread_service(api_root: str = API_ROOT) -> Any:
    """This thread's Gmail service for `api_root`, built once and reused for every mailbox:
    building one costs milliseconds, and httplib2 is not thread-safe, so it is never shared
    between threads. Its calls carry each mailbox's own `authorized_http`."""
    services: dict[str, Any] = _local.__dict__.setdefault("services", {})
    if api_root not in services:
        services[api_root] = build_from_document(discovery_document(api_root), http=_thread_http())
    return services[api_root]


def authorized_http(credentials: Any) -> Any:
    """A mailbox's credentials over this thread's connection, which stays open from one
    mailbox to the next (the first call of a fresh connection costs a handshake)."""
    return google_auth_httplib2.AuthorizedHttp(credentials, http=_thread_http())


class Built:
    """A resource whose nested resources (`users.history()`, `users.messages()`...) are
    built once and reused: building one makes each of its methods and their docstrings
    again, which cost an idle poll as much as its own call. Methods and everything else
    are the resource's own. Per service, so per thread, as the service is."""

    def __init__(self, resource: Any) -> None:
        self._resource = resource
        self._nested = set(resource._resourceDesc.get("resources", {}))
        self._built: dict[str, Built] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in self._nested:
            return getattr(self._resource, name)
        built = self._built.get(name)
        if built is None:
            built = self._built[name] = Built(getattr(self._resource, name)())
        return lambda: built


def users_of(service: Any) -> Any:
    """`service.users()`, built once per service (with its nested resources): resources
    are costly to build."""
    users = _users.get(service)
    if users is None:
        users = _users[service] = Built(service.users())
    return users
