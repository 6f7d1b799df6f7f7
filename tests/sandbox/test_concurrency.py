"""Several clients at once (one service per thread, as httplib2 requires)."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from tests.support.mail import b64, eml
from tests.support.sandbox import AVA, BEN, MIA


def test_parallel_senders_and_readers_keep_mailboxes_consistent(gmail: Callable[..., Any]) -> None:
    services = {email: gmail(email) for email in (AVA, BEN, MIA)}

    def send_ten(sender: str) -> list[str]:
        messages = services[sender].users().messages()
        return [
            messages.send(
                userId="me", body={"raw": b64(eml(sender, AVA, f"{sender} {i}"))}
            ).execute()["id"]
            for i in range(10)
        ]

    with ThreadPoolExecutor(max_workers=2) as pool:
        sent = list(pool.map(send_ten, (BEN, MIA)))
    assert all(len(ids) == 10 for ids in sent)
    inbox = services[AVA].users().messages().list(userId="me", labelIds=["INBOX"]).execute()
    assert inbox["resultSizeEstimate"] == 20
    history = services[AVA].users().history().list(userId="me", startHistoryId="1").execute()
    ids = [int(h["id"]) for h in history["history"]]
    assert ids == sorted(set(ids))
