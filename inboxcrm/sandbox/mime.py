"""RFC 5322 messages to Gmail's MessagePart shape, and base64url both ways.

Header values are text as Gmail gives them: raw 8-bit bytes (no RFC 2047) are read as
UTF-8, else as Windows-1252, as mail clients read them. A message nested deeper than
`MAX_DEPTH` MIME levels is refused with a 400, as a MIME bomb rather than mail.
"""

import base64
import binascii
import hashlib
import html
import re
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from email.utils import getaddresses
from typing import Any

from inboxcrm.sandbox.errors import bad_request

MAX_DEPTH = 100  # MIME levels: far beyond any real client's, and well inside the stack
_TAGS = re.compile(r"<(script|style)[^>]*>.*?</\1>|<[^>]+>", re.S | re.I)
_SPACE = re.compile(r"\s+")
SNIPPET_LENGTH = 200


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii")


def decode_b64url(text: str) -> bytes:
    """Decode base64url with or without padding (clients send both); 400 on garbage."""
    cleaned = text.strip().replace("+", "-").replace("/", "_").rstrip("=")
    try:
        data = base64.b64decode(cleaned + "=" * (-len(cleaned) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise bad_request("Invalid value for ByteString: " + text[:40]) from exc
    if not data:
        raise bad_request("Invalid value for ByteString: " + text[:40])
    return data


_BOUNDARY = re.compile(r'boundary="?([^";]+)"?', re.I)


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """Split at the first blank line, whether lines end in CRLF or LF."""
    crlf, lf = data.find(b"\r\n\r\n"), data.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return data[:crlf], data[crlf + 4 :]
    if lf >= 0:
        return data[:lf], data[lf + 2 :]
    return data, b""


def header_lines(head: bytes) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for line in head.decode("latin-1").replace("\r\n", "\n").split("\n"):
        if line[:1] in (" ", "\t") and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
        elif ":" in line:
            name, _, value = line.partition(":")
            out.append((name.strip(), value.strip()))
    return out


def split_multipart(content_type: str, body: bytes) -> list[tuple[dict[str, str], bytes]] | None:
    """Parts of a multipart body, byte for byte (the email package would re-encode them)."""
    found = _BOUNDARY.search(content_type)
    if not found:
        return None
    delimiter = b"--" + found[1].encode("latin-1")
    parts = []
    for chunk in body.split(delimiter)[1:]:
        if chunk.startswith(b"--"):
            break
        head, content = split_head(chunk.removeprefix(b"\r\n").removeprefix(b"\n"))
        content = content[:-2] if content.endswith(b"\r\n") else content.removesuffix(b"\n")
        parts.append(({k.lower(): v for k, v in header_lines(head)}, content))
    return parts


@dataclass
class Parsed:
    """What the API needs from one raw message, computed once when it is stored."""

    payload: dict[str, Any]
    headers: dict[str, str]  # lower-case name -> first value
    snippet: str
    text: str  # lower-cased searchable body and subject
    attachments: dict[str, bytes] = field(default_factory=dict)
    has_attachment: bool = False

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def addresses(self, *names: str) -> list[str]:
        values = [self.headers.get(n, "") for n in names]
        return [addr.lower() for _, addr in getaddresses(values) if addr]


def _header_text(value: str) -> str:
    """A raw header value (the parser keeps 8-bit bytes as surrogates) as text: UTF-8, else
    Windows-1252; unfolded."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        data = value.encode("utf-8", "surrogateescape")
        try:
            value = data.decode("utf-8")
        except UnicodeDecodeError:
            value = data.decode("cp1252", "replace")  # Latin-1 text reads the same
    return value.replace("\r", "").replace("\n", "")


def _raw_items(msg: Message) -> list[tuple[str, str]]:
    return [(name, _header_text(value)) for name, value in msg.raw_items()]


def _filename(msg: Message) -> str:
    """The part's filename, with 8-bit header bytes read as `_header_text` reads them."""
    items = _raw_items(msg)
    if all(v.isascii() for _, v in items):
        return msg.get_filename() or ""
    shadow = Message()  # the decoded headers, for the stdlib's parameter parsing
    for name, value in items:
        if name.lower() in ("content-disposition", "content-type"):
            shadow[name] = value
    return shadow.get_filename() or ""


def parse(raw: bytes) -> Parsed:
    try:
        msg = message_from_bytes(raw, policy=policy.compat32)
    except RecursionError:  # the stdlib's parser recurses per level: a MIME bomb
        raise _too_deep() from None
    attachments: dict[str, bytes] = {}
    texts: list[str] = []
    payload = _part(msg, "", attachments, texts)
    headers: dict[str, str] = {}
    for name, value in _raw_items(msg):
        headers.setdefault(name.lower(), value)
    plain = " ".join(texts)
    snippet = html.escape(_SPACE.sub(" ", plain).strip()[:SNIPPET_LENGTH], quote=True)
    return Parsed(
        payload=payload,
        headers=headers,
        snippet=snippet,
        text=(headers.get("subject", "") + " " + plain).lower(),
        attachments=attachments,
        has_attachment=bool(attachments),
    )


def _too_deep() -> Exception:
    return bad_request(f"Invalid MIME message: nested deeper than {MAX_DEPTH} levels.")


def _part(
    msg: Message, part_id: str, attachments: dict[str, bytes], texts: list[str], depth: int = 0
) -> dict[str, Any]:
    filename = _filename(msg)
    node: dict[str, Any] = {
        "partId": part_id,
        "mimeType": msg.get_content_type(),
        "filename": filename,
        "headers": [{"name": k, "value": v} for k, v in _raw_items(msg)],
    }
    if msg.is_multipart():
        if depth >= MAX_DEPTH:
            raise _too_deep()
        node["body"] = {"size": 0}
        children = msg.get_payload()
        assert isinstance(children, list)
        prefix = f"{part_id}." if part_id else ""
        node["parts"] = [
            _part(child, f"{prefix}{i}", attachments, texts, depth + 1)
            for i, child in enumerate(children)
        ]
        return node
    data = msg.get_payload(decode=True)
    body = data if isinstance(data, bytes) else b""
    if filename or msg.get_content_disposition() == "attachment":
        # Gmail never inlines attachment data: clients fetch it by attachmentId.
        attachment_id = "ANGjdJ" + hashlib.sha1(body + part_id.encode()).hexdigest()  # noqa: S324
        attachments[attachment_id] = body
        node["body"] = {"attachmentId": attachment_id, "size": len(body)}
        return node
    node["body"] = {"size": len(body), "data": b64url(body)} if body else {"size": 0}
    if node["mimeType"] in ("text/plain", "text/html") and not texts:
        charset = msg.get_content_charset() or "utf-8"
        try:
            text = body.decode(charset, errors="replace")
        except LookupError:
            text = body.decode("utf-8", errors="replace")
        if node["mimeType"] == "text/html":
            text = html.unescape(_TAGS.sub(" ", text))
        texts.append(text)
    return node
