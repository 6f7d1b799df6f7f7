"""The stored messages of a batch of threads as capture reads them: every message of the
threads, its people parsed once, the team's (the insiders) told apart from everyone else."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.leads.capture.insiders import Insiders
from inboxcrm.mail.models import Direction, Message, MessageKind
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.participants import Address, parse_addresses


@dataclass(slots=True)
class Mail:
    """One stored message as capture sees it."""

    id: int
    thread_id: int
    mailbox_id: int
    sent_at: dt.datetime
    rfc_message_id: str | None
    kind: MessageKind
    sender: Address | None  # None for a message without a readable From
    recipients: list[Address]  # To and Cc, the team included
    external: list[Address]  # sender then recipients, without the team, each once
    from_insider: bool
    new: bool

    @property
    def copy_key(self) -> str:
        """One message however many team mailboxes hold a copy of it."""
        return self.rfc_message_id or f"#{self.id}"

    def writes_out(self) -> bool:
        """The team wrote to someone outside it (not an internal note or forward)."""
        return self.from_insider and self.kind is MessageKind.person and bool(self.external)


# `Batch.reads` key of every message of a sync batch's threads, as `read_mail` gives them
# (capture reads them first; nothing in the batch's steps changes a message row).
BATCH_MAIL = "leads.batch_mail"


def read_mail(
    session: Session,
    insiders: Insiders,
    thread_ids: Sequence[int],
    new: set[int] | None,
    parsed: Mapping[int, ParsedMessage] | None = None,
) -> list[Mail]:
    """Every message of these threads, oldest first per thread; `new` names the messages
    just stored (None: all of them are). `parsed` holds messages as the sync parsed them,
    by id: their people are taken from there, not read again from the stored headers."""
    parsed = parsed or {}
    columns = (
        Message.id, Message.thread_id, Message.mailbox_id, Message.direction, Message.from_addr,
        Message.to_addrs, Message.cc_addrs, Message.kind, Message.sent_at, Message.rfc_message_id,
    )  # fmt: skip
    mails: list[Mail] = []
    for chunk in chunks(thread_ids):
        rows = session.execute(select(*columns).where(Message.thread_id.in_(chunk))).all()
        for row in rows:
            known = parsed.get(row.id)
            if known is not None:  # what was stored, without parsing it back
                sender, recipients = known.from_, [*known.to, *known.cc]
            else:
                found = parse_addresses(row.from_addr)
                sender = found[0] if found else None
                recipients = parse_addresses(row.to_addrs) + parse_addresses(row.cc_addrs)
            external: dict[str, Address] = {}
            for address in [sender, *recipients] if sender else recipients:
                if not insiders.is_insider(address.email) and address.email not in external:
                    external[address.email] = address
            from_insider = (
                insiders.is_insider(sender.email) if sender else row.direction is Direction.outbound
            )
            mails.append(
                Mail(
                    id=row.id,
                    thread_id=row.thread_id,
                    mailbox_id=row.mailbox_id,
                    sent_at=row.sent_at,
                    rfc_message_id=row.rfc_message_id,
                    kind=row.kind,
                    sender=sender,
                    recipients=recipients,
                    external=list(external.values()),
                    from_insider=from_insider,
                    new=new is None or row.id in new,
                )
            )
    mails.sort(key=lambda m: (m.thread_id, m.sent_at, m.id))
    return mails
