"""In-memory Google: accounts, mailboxes, OAuth grants. One lock guards it all.

A single re-entrant lock is simple and fast enough: every operation is a few
dictionary updates, and the HTTP layer around it costs far more.
"""

import random
import threading
from dataclasses import dataclass, field
from typing import Any, Protocol

from inboxcrm.sandbox.clock import Clock
from inboxcrm.sandbox.labels import Label, system_labels
from inboxcrm.sandbox.mime import Parsed, parse

DEFAULT_CLIENT_ID = "sandbox-client"
DEFAULT_CLIENT_SECRET = "sandbox-secret"  # noqa: S105 - a public test credential


@dataclass
class Options:
    quota_units_per_minute: int = 15000  # 0 turns quota off
    daily_send_limit: int = 2000
    send_limit_delay: float = 300.0  # seconds of 200s-that-bounce before the 429s
    send_limit_status: int = 429  # Gmail refuses past the sending limit with 429, or 403
    # Gmail may give a sent message a Message-ID of its own instead of the client's.
    rewrite_message_id: bool = False
    token_lifetime: int = 3600
    history_retention: float = 7 * 86400.0
    quota_status: int = 429  # 403 or 429, as Gmail answers both
    quota_reason: str = "rateLimitExceeded"  # or userRateLimitExceeded
    quota_retry_after: bool = True  # message with "Retry after <time>" or the bare form

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if not hasattr(self, key):
                raise KeyError(key)
            setattr(self, key, type(getattr(self, key))(value))


@dataclass
class StoredMessage:
    id: str
    thread_id: str
    raw: bytes
    parsed: Parsed
    internal_date: int  # ms since epoch
    label_ids: set[str]
    history_id: int

    def label_list(self) -> list[str]:
        return sorted(self.label_ids)


@dataclass
class HistoryRecord:
    id: int
    time: float
    kind: str  # messageAdded, messageDeleted, labelAdded, labelRemoved
    message_id: str
    thread_id: str
    label_ids: list[str]  # the message's labels after the change
    changed: list[str]  # the labels added or removed

    def resource(self) -> dict[str, Any]:
        ref = {"id": self.message_id, "threadId": self.thread_id}
        entry: dict[str, Any] = {"message": {**ref, "labelIds": self.label_ids}}
        if self.kind in ("labelAdded", "labelRemoved"):
            entry["labelIds"] = self.changed
        key = {
            "messageAdded": "messagesAdded",
            "messageDeleted": "messagesDeleted",
            "labelAdded": "labelsAdded",
            "labelRemoved": "labelsRemoved",
        }[self.kind]
        return {"id": str(self.id), "messages": [ref], key: [entry]}


class Mailbox:
    """One Gmail account's mail. Callers hold the state lock."""

    def __init__(self, email: str, clock: Clock, ids: "IdSource", options: "Options") -> None:
        self.email = email
        self.clock = clock
        self.ids = ids
        self.options = options
        self.labels: dict[str, Label] = system_labels()
        self.messages: dict[str, StoredMessage] = {}
        self.threads: dict[str, list[str]] = {}
        self.history: list[HistoryRecord] = []
        self.drafts: dict[str, str] = {}  # draft id -> the id of its message (label DRAFT)
        self.history_floor = 0  # start ids below this answer 404
        self._label_seq = 0
        # Per-mailbox generator: ids grow by uneven steps, like Gmail's.
        self._rng = random.Random(email)
        self.history_id = 1000 + self._rng.randint(0, 5000)

    # -- history --------------------------------------------------------------------------
    def _bump(self) -> int:
        self.history_id += self._rng.randint(2, 17)
        return self.history_id

    def _record(self, kind: str, msg: StoredMessage, changed: list[str] | None = None) -> None:
        hid = self._bump()
        msg.history_id = hid
        self.history.append(
            HistoryRecord(
                hid, self.clock.now(), kind, msg.id, msg.thread_id, msg.label_list(), changed or []
            )
        )

    def expired_before(self) -> int:
        """Start ids lower than this are too old to list (404)."""
        cutoff = self.clock.now() - self.options.history_retention
        floor = self.history_floor
        for rec in self.history:
            if rec.time >= cutoff:
                break
            floor = max(floor, rec.id)
        return floor

    # -- labels ---------------------------------------------------------------------------
    def new_label_id(self) -> str:
        self._label_seq += 1
        return f"Label_{self._label_seq}"

    def label_by_name(self, name: str) -> Label | None:
        wanted = name.casefold()
        return next((lb for lb in self.labels.values() if lb.name.casefold() == wanted), None)

    # -- messages -------------------------------------------------------------------------
    def add(
        self,
        raw: bytes,
        label_ids: set[str],
        internal_date: int | None = None,
        thread_id: str | None = None,
        parsed: Parsed | None = None,
    ) -> StoredMessage:
        parsed = parsed or parse(raw)
        mid = self.ids.message_id(self.clock.now_ms())
        tid = thread_id or self.find_thread(parsed) or mid
        when = internal_date if internal_date is not None else self.clock.now_ms()
        msg = StoredMessage(mid, tid, raw, parsed, when, set(label_ids), 0)
        self.messages[mid] = msg
        self.threads.setdefault(tid, []).append(mid)
        self._record("messageAdded", msg)
        return msg

    def find_thread(self, parsed: Parsed, within: str | None = None) -> str | None:
        """Gmail's threading: a referenced Message-ID plus the same normalized subject."""
        refs = set((parsed.header("in-reply-to") + " " + parsed.header("references")).split())
        if not refs:
            return None
        subject = normalize_subject(parsed.header("subject"))
        candidates = [within] if within else list(self.threads)
        for tid in candidates:
            for mid in self.threads.get(tid, []):
                other = self.messages[mid].parsed
                if other.header("message-id") in refs and (
                    normalize_subject(other.header("subject")) == subject
                ):
                    return tid
        return None

    def modify(self, msg: StoredMessage, add: set[str], remove: set[str]) -> None:
        added = sorted(add - msg.label_ids)
        removed = sorted((remove - add) & msg.label_ids)
        msg.label_ids |= set(added)
        msg.label_ids -= set(removed)
        if added:
            self._record("labelAdded", msg, added)
        if removed:
            self._record("labelRemoved", msg, removed)

    def delete(self, msg: StoredMessage) -> None:
        del self.messages[msg.id]
        thread = self.threads[msg.thread_id]
        thread.remove(msg.id)
        if not thread:
            del self.threads[msg.thread_id]
        self._record("messageDeleted", msg)

    def thread_history_id(self, tid: str) -> int:
        return max(self.messages[m].history_id for m in self.threads[tid])


def normalize_subject(subject: str) -> str:
    out = subject.strip()
    while True:
        head, _, rest = out.partition(":")
        if rest and head.strip().lower() in ("re", "fw", "fwd", "aw", "wg", "sv"):
            out = rest.strip()
        else:
            return out.lower()


class IdSource:
    """Gmail-looking ids: the arrival time in ms shifted left 20 bits, plus a counter."""

    def __init__(self) -> None:
        self._seq = 0

    def message_id(self, now_ms: int) -> str:
        self._seq = (self._seq + 1) & 0xFFFFF
        return f"{(now_ms << 20) | self._seq:016x}"


@dataclass
class Account:
    email: str
    name: str
    sub: str
    mailbox: Mailbox


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str] = field(default_factory=list)  # empty: any loopback URI


@dataclass
class Grant:
    """A user's consent to one client; revoking it kills every token it issued."""

    email: str
    client_id: str
    scopes: set[str]
    refresh_tokens: set[str] = field(default_factory=set)
    access_tokens: set[str] = field(default_factory=set)


@dataclass
class AccessToken:
    token: str
    email: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float


@dataclass
class AuthCode:
    code: str
    email: str
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    challenge: str
    challenge_method: str
    issue_refresh: bool
    nonce: str | None
    expires_at: float
    used: bool = False


@dataclass
class SentRecord:
    mailbox: str
    id: str
    thread_id: str
    message_id: str
    subject: str
    recipients: list[str]
    time: float
    bounced: list[str] = field(default_factory=list)

    def resource(self) -> dict[str, Any]:
        return {
            "mailbox": self.mailbox,
            "id": self.id,
            "threadId": self.thread_id,
            "messageId": self.message_id,
            "subject": self.subject,
            "recipients": self.recipients,
            "time": self.time,
            "bounced": self.bounced,
        }


class Outside(Protocol):
    """Addresses beyond the accounts that mail reaches (outside.py); called under the lock."""

    def knows(self, address: str) -> bool: ...

    def arrive(
        self, account: Account, message: StoredMessage, record: SentRecord, address: str
    ) -> None: ...


class _Nowhere:
    def knows(self, address: str) -> bool:
        return False

    def arrive(
        self, account: Account, message: StoredMessage, record: SentRecord, address: str
    ) -> None:
        pass


class State:
    def __init__(self, options: Options | None = None, clock: Clock | None = None) -> None:
        self.lock = threading.RLock()
        self.clock = clock or Clock()
        self.options = options or Options()
        self.ids = IdSource()
        self.outside: Outside = _Nowhere()
        self.clear()

    def clear(self) -> None:
        with self.lock:
            self.accounts: dict[str, Account] = {}
            self.contacts: set[str] = set()
            self.clients = {
                DEFAULT_CLIENT_ID: Client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
            }
            self.grants: dict[tuple[str, str], Grant] = {}
            self.codes: dict[str, AuthCode] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, Grant] = {}
            self.sent: list[SentRecord] = []

    def add_account(self, email: str, name: str) -> Account:
        email = email.lower()
        with self.lock:
            if email not in self.accounts:
                sub = str(100000000000000000000 + len(self.accounts) * 7919 + sum(map(ord, email)))
                mailbox = Mailbox(email, self.clock, self.ids, self.options)
                self.accounts[email] = Account(email, name, sub, mailbox)
            return self.accounts[email]

    def mailbox(self, email: str) -> Mailbox:
        return self.accounts[email.lower()].mailbox

    def deliverable(self, address: str) -> bool:
        address = address.lower()
        return address in self.accounts or address in self.contacts or self.outside.knows(address)
