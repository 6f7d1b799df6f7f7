"""Building RFC 5322 test messages."""

import base64
from email.message import EmailMessage
from email.utils import formatdate, make_msgid


def eml(
    sender: str,
    to: str,
    subject: str,
    text: str = "Hello",
    *,
    html: str | None = None,
    reply_to_id: str | None = None,
    message_id: str | None = None,
    date: float | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    if date is not None:
        msg["Date"] = formatdate(date)
    if reply_to_id:
        msg["In-Reply-To"] = reply_to_id
        msg["References"] = reply_to_id
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="q.pdf")
    return msg.as_bytes()


def b64(raw: bytes, padded: bool = True) -> str:
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")
