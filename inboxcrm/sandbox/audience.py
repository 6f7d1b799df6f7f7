"""The simulated audience: what machines and people do with a delivered message's URLs.

Each action is a request the app would see from the real world, in its method, User-Agent
and source address. The sandbox runs on loopback, so the source goes in X-Forwarded-For
(the app believes it only when told to trust its proxy); the sandbox clock's time goes in
Date. Only loopback URLs are fetched: links to the wider web are logged, not followed.

- scanner: a security scanner (Microsoft Safe Links style), seconds after delivery, HEAD
  then GET on every link, the hidden ones too, from Microsoft's ranges.
- mpp: Apple Mail Privacy Protection, soon after delivery, every image, UA "Mozilla/5.0".
- image_proxy: a Gmail reader opens it; Google's image proxy fetches the first image.
- person_open: a person's own mail client, later, every image, a real browser's UA.
- click: that person follows the first visible link that is not an unsubscribe link.
- unsubscribe: the mailbox provider's one-click unsubscribe (RFC 8058): a POST to the
  https List-Unsubscribe URL with body List-Unsubscribe=One-Click, no cookies.
- reply: the lead answers (mail, not HTTP).
"""

import hashlib
import ipaddress
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

from inboxcrm.sandbox.recipients import fraction

WEB = ("scanner", "mpp", "image_proxy", "person_open", "click", "unsubscribe")
ACTIONS = (*WEB, "reply")
DELAYS = {  # seconds after delivery
    "scanner": 2.0,
    "mpp": 20.0,
    "image_proxy": 1800.0,
    "person_open": 3600.0,
    "click": 3660.0,
    "unsubscribe": 7200.0,
    "reply": 5400.0,
}
GOOGLE_PROXY_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
APPLE_MPP_UA = "Mozilla/5.0"
SCANNER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0"
)
PERSON_UA = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/131.0.0.0 Safari/537.36"
)
UNSUBSCRIBE_UA = "Mozilla/5.0 (compatible; GoogleOneClickUnsubscribe)"  # the sandbox's own
# Where each request seems to come from (X-Forwarded-For): one address per recipient.
SOURCES = {
    "scanner": "40.107.0.0/16",  # Exchange Online Protection
    "mpp": "17.58.0.0/16",  # Apple
    "image_proxy": "66.249.80.0/20",  # Google's image proxy
    "person_open": "73.0.0.0/8",  # a residential ISP
    "click": "73.0.0.0/8",
    "unsubscribe": "209.85.128.0/17",  # Google's mail servers
}
ONE_CLICK = b"List-Unsubscribe=One-Click"
TIMEOUT = 5.0


@dataclass
class Audience:
    """Rates per action over outside recipients, or a set of actions per address."""

    rates: dict[str, float] = field(default_factory=dict)
    delays: dict[str, float] = field(default_factory=dict)
    people: dict[str, list[str]] = field(default_factory=dict)
    seed: str = "sandbox"

    def configure(self, body: dict[str, Any]) -> None:
        rates = {str(k): float(v) for k, v in dict(body.get("rates", {})).items()}
        delays = {str(k): float(v) for k, v in dict(body.get("delays", {})).items()}
        people = {}
        for address, chosen in dict(body.get("people", {})).items():
            people[str(address).lower()] = [str(x) for x in chosen]
        for name in [*rates, *delays, *(x for acts in people.values() for x in acts)]:
            if name not in ACTIONS:
                raise ValueError(f"unknown action {name!r}: use one of {', '.join(ACTIONS)}")
        if any(not 0 <= r <= 1 for r in rates.values()):
            raise ValueError("rates must be between 0 and 1")
        if any(d < 0 for d in delays.values()):
            raise ValueError("delays must be seconds, 0 or more")
        self.rates.update(rates)
        self.delays.update(delays)
        self.people.update(people)
        self.seed = str(body.get("seed", self.seed))

    def actions(self, address: str) -> list[tuple[str, float]]:
        """What this recipient does with a message, and how many seconds after delivery."""
        address = address.lower()
        chosen = self.people.get(address)
        if chosen is None:
            chosen = [a for a in ACTIONS if fraction(self.seed, a, address) < self.rates.get(a, 0)]
        return [(a, self.delays.get(a, DELAYS[a])) for a in ACTIONS if a in chosen]

    def resource(self) -> dict[str, Any]:
        return {
            "rates": self.rates,
            "delays": self.delays,
            "people": self.people,
            "seed": self.seed,
        }


@dataclass
class Link:
    href: str
    hidden: bool
    text: str = ""


class _Html(HTMLParser):
    """Images and links of an HTML body, and whether a person could see each link."""

    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}  # fmt: skip
    HIDDEN = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0|"
                        r"max-height\s*:\s*0|opacity\s*:\s*0(?![.\d])", re.I)  # fmt: skip

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images: list[str] = []
        self.links: list[Link] = []
        self._stack: list[tuple[str, bool]] = []
        self._open: Link | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        hidden = (bool(self._stack) and self._stack[-1][1]) or "hidden" in values or bool(
            self.HIDDEN.search(values.get("style", ""))
        )  # fmt: skip
        if tag == "img" and values.get("src"):
            self.images.append(values["src"])
        if tag == "a" and values.get("href"):
            self._open = Link(values["href"], hidden)
            self.links.append(self._open)
        if tag not in self.VOID:
            self._stack.append((tag, hidden))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None
        for i in range(len(self._stack) - 1, -1, -1):
            if self._stack[i][0] == tag:
                del self._stack[i:]
                return

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.text += data


@dataclass
class Page:
    """What the audience needs of a sent message."""

    images: list[str]
    links: list[Link]
    unsubscribe: str | None  # the https List-Unsubscribe URL, when one-click is offered
    unsubscribe_note: str = ""


def read(raw: bytes) -> Page:
    msg = message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    body = msg.get_body(preferencelist=("html",))
    parser = _Html()
    if body is not None:
        parser.feed(body.get_content())
        parser.close()
    header = str(msg.get("List-Unsubscribe", ""))
    urls = [u for u in re.findall(r"<([^>]+)>", header) if u.lower().startswith("http")]
    post = str(msg.get("List-Unsubscribe-Post", "")).strip()
    if not urls:
        return Page(parser.images, parser.links, None, "no http List-Unsubscribe URL")
    if post != "List-Unsubscribe=One-Click":
        return Page(parser.images, parser.links, None, "no List-Unsubscribe-Post: One-Click")
    return Page(parser.images, parser.links, urls[0])


@dataclass
class Fetch:
    method: str
    url: str
    user_agent: str
    source: str
    body: bytes | None = None


def fetches(action: str, page: Page, recipient: str) -> list[Fetch]:
    """The requests one action makes, in order."""
    source = _source(action, recipient)
    if action == "scanner":
        return [
            Fetch(m, link.href, SCANNER_UA, source)
            for link in page.links
            if _web(link.href)
            for m in ("HEAD", "GET")
        ]
    if action == "mpp":
        return [Fetch("GET", src, APPLE_MPP_UA, source) for src in page.images if _web(src)]
    if action == "image_proxy":
        return [Fetch("GET", src, GOOGLE_PROXY_UA, source) for src in page.images[:1] if _web(src)]
    if action == "person_open":
        return [Fetch("GET", src, PERSON_UA, source) for src in page.images if _web(src)]
    if action == "click":
        for link in page.links:
            words = (link.href + " " + link.text).lower()
            if not link.hidden and _web(link.href) and "unsubscribe" not in words and (
                link.href != page.unsubscribe
            ):  # fmt: skip
                return [Fetch("GET", link.href, PERSON_UA, source)]
        return []
    if action == "unsubscribe" and page.unsubscribe:
        return [Fetch("POST", page.unsubscribe, UNSUBSCRIBE_UA, source, ONE_CLICK)]
    return []


def _web(url: str) -> bool:
    return url.lower().startswith(("http://", "https://"))


def _source(action: str, recipient: str) -> str:
    """A stable address in the action's range for this recipient."""
    network = ipaddress.ip_network(SOURCES.get(action, "73.0.0.0/8"))
    digest = hashlib.sha256(recipient.lower().encode()).digest()
    offset = 1 + int.from_bytes(digest[:4], "big") % (network.num_addresses - 2)
    return str(network.network_address + offset)


def loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A click records the app's redirect; where it points is the wider web."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect())


def send(fetch: Fetch, now: float) -> tuple[int | None, str]:
    """Make the request; (HTTP status, note). Not under the state lock: the app may be slow."""
    if not loopback(fetch.url):
        return None, "not fetched: the sandbox fetches loopback URLs only"
    headers = {
        "User-Agent": fetch.user_agent,
        "X-Forwarded-For": fetch.source,
        "Date": formatdate(now, usegmt=True),
        "Accept": "image/*" if fetch.user_agent == GOOGLE_PROXY_UA else "*/*",
    }
    if fetch.body is not None:
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    request = urllib.request.Request(  # noqa: S310 - loopback http(s) only, checked above
        fetch.url, data=fetch.body, headers=headers, method=fetch.method
    )
    try:
        with _opener.open(request, timeout=TIMEOUT) as answer:
            answer.read()
            return answer.status, ""
    except urllib.error.HTTPError as exc:
        location = exc.headers.get("Location", "")
        exc.close()
        return exc.code, f"Location: {location}" if location else ""
    except (OSError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
