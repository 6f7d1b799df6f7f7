"""Open and click tracking, honest about who opened and clicked.

`track` rewrites a message's links to signed click redirects (the token carries the URL,
so a redirect goes only to a URL that was in that message: no open redirect), adds an open
pixel, and adds a link hidden from people that only machines follow.

Most opens and many clicks are not people: Apple Mail Privacy Protection fetches every
image of every message (the user agent just `Mozilla/5.0`, from Apple's addresses), Gmail
fetches images through its proxy (`GoogleImageProxy`, and at delivery for some users),
security scanners (Microsoft Safe Links, Proofpoint, Mimecast ...) follow every link with
HEAD or GET seconds after delivery. `classify` names each hit, keeping the reason; only
a person's first open, and first click of each link, become engagement.
"""

from __future__ import annotations

import datetime as dt
import html
import ipaddress
import re
from dataclasses import dataclass
from functools import cache

from inboxcrm.outbox import tokens
from inboxcrm.outbox.models import HitKind, Verdict

PURPOSE = {HitKind.open: tokens.OPEN, HitKind.click: tokens.CLICK, HitKind.trap: tokens.TRAP}
SCANNER_WINDOW = dt.timedelta(seconds=20)  # faster than a person opens and clicks
PREFETCH_WINDOW = dt.timedelta(seconds=60)  # Gmail fetching images at delivery

# Published or long-observed egress ranges. Apple owns 17.0.0.0/8; Google's mail proxies
# fetch from these blocks; the scanners' from their mail-filtering networks.
APPLE_RANGES = ("17.0.0.0/8",)
GOOGLE_RANGES = (
    "66.102.0.0/20", "66.249.64.0/19", "64.233.160.0/19", "72.14.192.0/18",
    "74.125.0.0/16", "209.85.128.0/17", "108.177.8.0/21", "2001:4860::/32",
)  # fmt: skip
SCANNER_RANGES = (
    "40.92.0.0/15", "40.94.0.0/16", "40.107.0.0/16", "52.100.0.0/14",  # Microsoft EOP,
    "104.47.0.0/17",  # and Safe Links
    "148.163.128.0/19", "67.231.144.0/20", "205.220.160.0/19",  # Proofpoint
    "205.139.110.0/24", "207.211.30.0/24", "216.205.24.0/24",  # Mimecast
    "209.222.80.0/21", "64.235.144.0/20",  # Barracuda
)  # fmt: skip
SCANNER_AGENTS = re.compile(
    r"bot\b|crawler|spider|scanner|python-requests|python-urllib|curl/|wget/|go-http-client"
    r"|java/|okhttp|barracuda|proofpoint|mimecast|safelinks|urldefense|headless",
    re.IGNORECASE,
)
_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"'\s]+)\2""", re.IGNORECASE)
_PIXEL_STYLE = "display:none;width:1px;height:1px;border:0"
_HIDDEN = "display:none;font-size:0;line-height:0;max-height:0;overflow:hidden"


@dataclass(frozen=True)
class Tracked:
    """What a tracking token carries: whose send, when it was sent, and for a click the URL."""

    workspace_id: int
    lead_id: int
    send: str
    sent_at: dt.datetime
    url: str | None = None

    def token(self, secret: str, kind: HitKind) -> str:
        payload: list[object] = [self.workspace_id, self.lead_id, self.send,
                                 int(self.sent_at.timestamp())]  # fmt: skip
        if kind is HitKind.click:
            payload.append(self.url)
        return tokens.sign(secret, PURPOSE[kind], payload)

    @classmethod
    def read(cls, secret: str, kind: HitKind, token: str) -> Tracked | None:
        payload = tokens.read(secret, PURPOSE[kind], token)
        size = 5 if kind is HitKind.click else 4
        if payload is None or len(payload) != size:
            return None
        workspace, lead, send, sent = payload[:4]
        url = payload[4] if kind is HitKind.click else None
        if not all(isinstance(v, int) for v in (workspace, lead, sent)) or not isinstance(
            send, str
        ):
            return None
        if kind is HitKind.click and not (isinstance(url, str) and _web_url(url)):
            return None
        return cls(workspace, lead, send, dt.datetime.fromtimestamp(sent, dt.UTC), url)


def _web_url(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def track(html_body: str, base_url: str, secret: str, sent: Tracked) -> str:
    """The message's HTML with every http(s) link through a signed click redirect (except
    links back to this app, such as the unsubscribe link), an open pixel and a hidden link
    for machines, both at the end of the body."""
    root = base_url.rstrip("/")

    def rewrite(match: re.Match[str]) -> str:
        url = html.unescape(match.group(3))
        if url.startswith(root + "/"):
            return match.group(0)
        token = Tracked(sent.workspace_id, sent.lead_id, sent.send, sent.sent_at, url).token(
            secret, HitKind.click
        )
        return f"{match.group(1)}{match.group(2)}{root}/t/c/{token}{match.group(2)}"

    body = _HREF.sub(rewrite, html_body)
    pixel = f"{root}/t/o/{sent.token(secret, HitKind.open)}.gif"
    trap = f"{root}/t/h/{sent.token(secret, HitKind.trap)}"
    added = (
        f'<a href="{trap}" style="{_HIDDEN}" aria-hidden="true" tabindex="-1"></a>'
        f'<img src="{pixel}" width="1" height="1" alt="" style="{_PIXEL_STYLE}">'
    )
    close = re.search(r"</body\s*>", body, re.IGNORECASE)
    if close is None:
        return body + added
    return body[: close.start()] + added + body[close.start() :]


@dataclass(frozen=True)
class Hit:
    """A tracking request as it came, with the send's time from its token."""

    kind: HitKind
    method: str
    user_agent: str
    ip: str
    at: dt.datetime
    sent_at: dt.datetime


@cache
def _networks(ranges: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(r) for r in ranges)


def _in(ip: str, ranges: tuple[str, ...]) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(address in network for network in _networks(ranges))


def classify(hit: Hit, counted_before: bool) -> tuple[Verdict, str]:
    """Who made a hit, and why we think so. `counted_before`: a person's hit of the same
    kind (and link) on the same send is already counted."""
    agent = hit.user_agent.strip()
    after = hit.at - hit.sent_at
    if hit.kind is HitKind.trap:
        return Verdict.scanner, "followed the link hidden from people"
    if hit.method.upper() == "HEAD":
        return Verdict.scanner, "HEAD request: a link checker, not a browser"
    if "GoogleImageProxy" in agent:
        if after <= PREFETCH_WINDOW:
            return Verdict.gmail_prefetch, "Gmail's image proxy, at delivery"
        return Verdict.gmail_proxy, "Gmail's image proxy (GoogleImageProxy)"
    if agent == "Mozilla/5.0":
        return Verdict.apple_mpp, "Apple Mail Privacy Protection: user agent just Mozilla/5.0"
    if _in(hit.ip, APPLE_RANGES):
        return Verdict.apple_mpp, "Apple Mail Privacy Protection: from Apple's addresses"
    if _in(hit.ip, GOOGLE_RANGES) and after <= PREFETCH_WINDOW:
        return Verdict.gmail_prefetch, "from Google's mail proxies, at delivery"
    if _in(hit.ip, SCANNER_RANGES):
        return Verdict.scanner, "from a mail security scanner's network"
    if not agent or SCANNER_AGENTS.search(agent):
        return Verdict.scanner, f"a program's user agent: {agent[:80] or 'none'}"
    if after <= SCANNER_WINDOW:
        return (
            Verdict.scanner,
            f"{int(after.total_seconds())} s after sending: faster than a person",
        )
    if counted_before:
        return Verdict.repeat, "a person's repeat of a hit already counted"
    return Verdict.person, "a person's browser or mail app"
