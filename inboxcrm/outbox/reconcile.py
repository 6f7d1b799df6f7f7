"""Finding a Send in its mailbox after Gmail's answer was lost or the process died: its
draft (a drafts.create whose answer never came) or its sent message (a drafts.send whose
answer never came). By RFC Message-ID first (one search), then by the token header,
which holds when Gmail rewrote the Message-ID."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from inboxcrm.gmail.calls import GmailCalls
from inboxcrm.mail.parse import SEND_HEADER


@dataclass(frozen=True)
class Sought:
    message_id: str
    token: str
    to: str
    since: dt.datetime  # when it was committed: nothing of it is older


@dataclass(frozen=True)
class Found:
    gmail_id: str
    thread_id: str


def _token_of(message: dict[str, object]) -> str | None:
    payload = message.get("payload")
    headers = payload.get("headers", []) if isinstance(payload, dict) else []
    for header in headers:
        if str(header.get("name", "")).lower() == SEND_HEADER.lower():
            return str(header.get("value", "")).strip()
    return None


def _with_token(calls: GmailCalls, ids: list[str], token: str) -> Found | None:
    if not ids:
        return None
    fetched = calls.get_messages(ids, format="metadata", metadata_headers=[SEND_HEADER])
    for gmail_id in ids:
        message = fetched.messages.get(gmail_id)
        if message is not None and _token_of(message) == token:
            return Found(gmail_id, str(message.get("threadId", "")))
    return None


def find_draft(calls: GmailCalls, sought: Sought) -> str | None:
    """The id of the Send's draft, if a drafts.create whose answer was lost made one."""
    drafts = calls.list_drafts(f"rfc822msgid:{sought.message_id.strip('<>')}")
    if drafts:
        return str(drafts[0]["id"])
    drafts = calls.list_drafts(f"to:{sought.to}")
    by_message = {str(d["message"]["id"]): str(d["id"]) for d in drafts}
    found = _with_token(calls, list(by_message), sought.token)
    return by_message[found.gmail_id] if found is not None else None


def find_sent(calls: GmailCalls, sought: Sought) -> Found | None:
    """The Send's message as Gmail sent it, drafts left out, trash and spam included."""
    msgid = sought.message_id.strip("<>")
    page = calls.list_message_ids(
        q=f"rfc822msgid:{msgid} -in:drafts", max_results=10, include_spam_trash=True
    )
    if page.ids:
        fetched = calls.get_messages(page.ids[:1], format="minimal")
        message = fetched.messages.get(page.ids[0], {})
        return Found(page.ids[0], str(message.get("threadId", "")))
    after = int((sought.since - dt.timedelta(days=1)).timestamp())  # Gmail's days, loosely
    page = calls.list_message_ids(
        q=f"to:{sought.to} after:{after} -in:drafts", max_results=100, include_spam_trash=True
    )
    return _with_token(calls, page.ids, sought.token)
