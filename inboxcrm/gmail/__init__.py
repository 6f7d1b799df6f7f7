"""The one place that talks to Google's client libraries.

Everything else in inboxcrm asks this package for a Gmail service, OAuth flow or
credentials, so the addresses (real Google or the sandbox) are set in one place.
"""

from inboxcrm.gmail.auth import SCOPES, TOKEN_URI, make_credentials, make_flow
from inboxcrm.gmail.client import API_ROOT, build_gmail, discovery_document

__all__ = [
    "API_ROOT",
    "SCOPES",
    "TOKEN_URI",
    "build_gmail",
    "discovery_document",
    "make_credentials",
    "make_flow",
]
