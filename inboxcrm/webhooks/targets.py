"""Where a webhook may point: https in production (http too in development, demo and
test), never at the service itself, and outside demo and test never at a loopback,
private, link-local or otherwise non-public address: every address the host resolves
to is checked, at registration and again before each delivery (DNS changes)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from inboxcrm.config import Settings
from inboxcrm.errors import Invalid

LOCAL_OK = ("demo", "test")  # a receiver on this machine is how these are tried out


def check_url(url: str, settings: Settings) -> str:
    """The URL, or Invalid saying why a webhook may not point there."""
    url = url.strip()
    parts = urlsplit(url)
    schemes = ("https",) if settings.is_production else ("https", "http")
    if parts.scheme not in schemes or not parts.hostname:
        raise Invalid(
            f"the URL must start with {' or '.join(s + '://' for s in schemes)}",
            {"url": "not allowed"},
        )
    if parts.username or parts.password:
        raise Invalid("the URL may not carry a user name or password", {"url": "not allowed"})
    if len(url) > 500:
        raise Invalid("the URL is longer than 500 characters", {"url": "too long"})
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid("the URL's port is not a number", {"url": "not allowed"}) from None
    own = urlsplit(settings.base_url)
    own_port = own.port or (443 if own.scheme == "https" else 80)
    if (parts.hostname.lower(), port) == ((own.hostname or "").lower(), own_port):
        raise Invalid("a webhook cannot point at inboxcrm itself", {"url": "not allowed"})
    check_addresses(parts.hostname, port, settings)
    return url


def check_addresses(host: str, port: int, settings: Settings) -> None:
    try:
        found = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Invalid(f"{host} does not resolve", {"url": "unknown host"}) from None
    for info in found:
        address = ipaddress.ip_address(info[4][0])
        if address.is_global:
            continue
        local = address.is_loopback or address.is_private
        if settings.env in LOCAL_OK and local and not address.is_link_local:
            continue
        raise Invalid(
            f"{host} resolves to {address}, which is not a public address", {"url": "not allowed"}
        )
