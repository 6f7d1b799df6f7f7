"""A mailbox's Gmail connection: its credentials, the refreshed access token kept, and the
quota bucket that paces every call to it. Shared by everything that talks to a mailbox's
Gmail (the sync, the relabel job, sending), so they all draw on one quota."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox
from inboxcrm.accounts.service import google_client
from inboxcrm.config import Settings
from inboxcrm.gmail.calls import GmailCalls, RetryPolicy
from inboxcrm.gmail.client import authorized_http, thread_service
from inboxcrm.gmail.pacing import SystemClock, TokenBucket
from inboxcrm.gmail.signin import credentials_from_json
from inboxcrm.runtime import Runtime

# Backoffs total about a minute; a longer "Retry after" ends the job's work with the
# mailbox (throttled) rather than holding a worker.
RETRY = RetryPolicy(max_wait=60.0)


@dataclass
class Connection:
    """A mailbox's Gmail for one job's work, with the access token it started with."""

    mailbox_id: int
    calls: GmailCalls
    credentials: Any
    token: str | None

    def keep_refreshed(self, runtime: Runtime) -> None:
        """google-auth refreshed the access token meanwhile: store it (sealed), so the next
        connection uses it until it expires instead of refreshing again."""
        if self.credentials.token and self.credentials.token != self.token:
            with runtime.database.session() as session:
                mailbox = session.get_one(Mailbox, self.mailbox_id)
                box = TokenBox(runtime.settings.token_key)
                mailbox.token_ciphertext = box.seal(self.credentials.to_json())


def connect(runtime: Runtime, mailbox: Mailbox, policy: RetryPolicy = RETRY) -> Connection:
    """The mailbox's Gmail, paced by its own quota bucket, which lives across ticks.
    Sending passes a policy of its own: it retries through its queue, not in the call."""
    client = google_client(runtime.settings)
    if client is None or mailbox.token_ciphertext is None:
        raise LookupError(f"mailbox {mailbox.id} has no Google client or tokens")
    tokens = TokenBox(runtime.settings.token_key).open(mailbox.token_ciphertext)
    credentials = credentials_from_json(client, tokens)
    bucket = runtime.buckets.setdefault(mailbox.id, TokenBucket(SystemClock()))
    service = thread_service(client.api_root)  # this worker's, reused for every mailbox
    calls = GmailCalls(service, bucket, policy=policy, http=authorized_http(credentials))
    return Connection(mailbox.id, calls, credentials, credentials.token)


def gmail_calls(runtime: Runtime, mailbox: Mailbox) -> GmailCalls:
    return connect(runtime, mailbox).calls


# A person waits for a download: two tries, no long backoffs.
WAITING = RetryPolicy(attempts=2, base=0.5, cap=2.0, jitter=0.2, max_wait=5.0)


def request_calls(settings: Settings, mailbox: Mailbox) -> GmailCalls:
    """The mailbox's Gmail for one web request (an attachment to download), with a short
    retry policy: LookupError when it is not connected. A refreshed token is not kept:
    the clock's next connection refreshes its own."""
    client = google_client(settings)
    if client is None or mailbox.token_ciphertext is None:
        raise LookupError(f"{mailbox.email} is not connected")
    tokens = TokenBox(settings.token_key).open(mailbox.token_ciphertext)
    credentials = credentials_from_json(client, tokens)
    service = thread_service(client.api_root)
    return GmailCalls(
        service, TokenBucket(SystemClock()), policy=WAITING, http=authorized_http(credentials)
    )
