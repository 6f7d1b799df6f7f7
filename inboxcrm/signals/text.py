"""A person's own words in a reply: the text above what it quotes. Pure.

Mail clients mark the quoted part in a handful of ways: an attribution line ("On ...
wrote:", in the reader's language), Outlook's "-----Original Message-----" or its
underscore rule and From:/Sent: block, and `>` at the start of each quoted line. The own
text is what comes before the first of them, without `>` lines.
"""

from __future__ import annotations

import re

from inboxcrm.mail.sanitize import html_to_text

_QUOTE_START = re.compile(
    r"""^\s*(
        (on|am|le|el|em|op|il|den|dne|w\ dniu)\b.{0,200}?
            (wrote|schrieb|a\ écrit|a\ ecrit|escribió|escribio|escreveu|schreef|ha\ scritto
             |skrev|napisał|napsal)\s*:?\s*$
      | .{0,200}\b(wrote|schrieb|a\ écrit|escribió|escreveu|schreef|ha\ scritto):\s*$
      | -{2,}\s*(original\ message|ursprüngliche\ nachricht|message\ d'origine|mensaje\ original
               |mensagem\ original|oorspronkelijk\ bericht|messaggio\ originale|forwarded\ message
               |weitergeleitete\ nachricht|message\ transféré)\s*-{2,}
      | _{10,}
      | (from|von|de|van|da)\s*:\s.+\n
        \s*(sent|gesendet|envoyé|enviado|verzonden|inviato|date|datum)\s*:
    )""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
OWN_CHARS = 20_000  # a reply's own words come first; no need to read a long thread's quote


def body_text(text_body: str, html_body: str = "") -> str:
    """The message's text: its plain part, else its HTML as text."""
    if text_body.strip():
        return text_body
    return html_to_text(html_body[: OWN_CHARS * 4]) if html_body else ""


def own_text(text: str) -> str:
    """The text above the first quote marker, `>` lines left out."""
    text = text[:OWN_CHARS].replace("\r\n", "\n")
    match = _QUOTE_START.search(text)
    if match:
        text = text[: match.start()]
    return "\n".join(line for line in text.split("\n") if not line.lstrip().startswith(">"))
