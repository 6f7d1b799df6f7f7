"""Gmail service objects built from the discovery document the client library ships.

`build_from_document` with `rootUrl` replaced is the only way to move every URL at
once: `client_options={"api_endpoint": ...}` leaves batch and media upload on Google.
"""

import copy
import functools
import json
from importlib import resources
from typing import Any

from googleapiclient.discovery import build_from_document

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
