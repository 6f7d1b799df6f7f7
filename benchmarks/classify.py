"""Local throughput of classifying raw mail as `inboxcrm mail classify` does: parse the
RFC 5322 bytes, decide the kind, and read the signals (bounce type and reason, an
out-of-office's return date, a meeting accepted, an unsubscribe request).

Prints one JSON object. The mix: 70 % ordinary mail (plain notes, replies quoting a long
thread, HTML newsletters with list headers), 20 % delivery reports in the shapes Gmail,
Microsoft 365, Postfix, Exim and qmail send, with hard and soft reasons, and 10 %
auto-replies in seven languages. The target is 1,000 messages/s.

Then the accuracy on the real-world corpus in tests/corpus/ (sisimai's sample bounces,
auto-replies, ordinary mail), as the corpus test counts it: `bounce_found_pct` and
`bounce_typed_pct` (found, and typed hard/soft as sisimai does; targets 95),
`auto_reply_found_pct`, and `ordinary_false_pct` (ordinary mail called a bounce or an
auto-reply; target at most 1).
"""

import datetime as dt
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' mail shapes

from inboxcrm.mail.parse import parse_raw
from inboxcrm.signals.classify import read_signals
from tests.support.corpus import manifest, score
from tests.support.signals import (
    calendar_reply,
    exchange_bounce,
    exim_bounce,
    gmail_bounce,
    ics_reply,
    message,
    out_of_office,
    postfix_bounce,
    qmail_bounce,
)

MESSAGES = 3000
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
US = "ava.reed@northwind.io"
WORDS = "the proposal pricing next week call demo contract team thanks budget quarter".split()
DIAGNOSTICS = [
    ("5.1.1", "550 5.1.1 <{r}>: Recipient address rejected: User unknown in local recipient table"),
    ("5.2.2", "552 5.2.2 <{r}>: Mailbox full"),
    (
        "5.7.1",
        "554 5.7.1 Service unavailable; Client host [192.0.2.9] blocked using zen.spamhaus.org",
    ),
    ("4.4.7", "Message expired: delivery time expired"),
    ("5.4.4", "Host or domain name not found. Name service error for name=x.example type=A"),
    ("5.7.26", "550 5.7.26 Unauthenticated email is not accepted from this domain"),
]
AWAY = [
    "I am out of the office until 7 January and will reply when I am back.",
    "Ich bin bis einschließlich 5. Januar nicht im Büro.",
    "Je serai de retour le 3 janvier.",
    "Estaré fuera de la oficina hasta el 7 de enero.",
    "Estou ausente até 10 de janeiro.",
    "Ik ben afwezig tot en met 4 januari.",
    "Sono fuori ufficio fino al 9 gennaio.",
]


def _text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


def sample(count: int) -> list[bytes]:
    rng = random.Random(7)
    out: list[bytes] = []
    for i in range(count):
        person = f"person{i % 500}@client{i % 37}.example"
        roll = rng.random()
        if roll < 0.35:
            raw = message(
                f"From: Person <{person}>",
                f"To: {US}",
                f"Subject: {_text(rng, 3)}",
                f"Message-ID: <m{i}@client.example>",
                body=_text(rng, 60),
            )
        elif roll < 0.55:
            quoted = "\n".join(f"> {_text(rng, 12)}" for _ in range(40))
            raw = message(
                f"From: {person}",
                f"To: {US}",
                "Subject: Re: Proposal",
                f"In-Reply-To: <p{i}@northwind.io>",
                f"Message-ID: <r{i}@x.example>",
                body=f"{_text(rng, 30)}\n\nOn Mon, 23 Nov 2026, Ava wrote:\n{quoted}",
            )
        elif roll < 0.70:
            html = "<html><body>" + "".join(f"<p>{_text(rng, 25)}</p>" for _ in range(30))
            raw = message(
                "From: News <news@letters.example>",
                f"To: {US}",
                "Subject: This week",
                "List-Unsubscribe: <https://letters.example/u>",
                "List-Id: <weekly.letters.example>",
                f"Message-ID: <n{i}@l.example>",
                "MIME-Version: 1.0",
                "Content-Type: text/html; charset=utf-8",
                body=html + "<a href='https://letters.example/u'>Unsubscribe</a>",
            )
        elif roll < 0.90:
            status, diag = rng.choice(DIAGNOSTICS)
            shape = rng.randrange(5)
            mid = f"<p{i}@northwind.io>"
            if shape == 0:
                raw = gmail_bounce(US, person, mid, status=status, diagnostic=diag.format(r=person))
            elif shape == 1:
                raw = postfix_bounce(
                    US, person, mid, status=status, diagnostic=diag.format(r=person)
                )
            elif shape == 2:
                raw = exchange_bounce(US, person, mid)
            elif shape == 3:
                raw = exim_bounce(US, person, diag.format(r=person))
            else:
                raw = qmail_bounce(US, person, diag.format(r=person))
        elif roll < 0.98:
            raw = out_of_office(
                person,
                US,
                "Automatic reply: Proposal",
                rng.choice(AWAY),
                **{"Auto-Submitted": "auto-replied"},
            )
        else:
            raw = calendar_reply(person, US, ics_reply(person), "Accepted: Demo")
        out.append(raw.encode())
    return out


def main() -> None:
    raws = sample(MESSAGES)
    kinds: dict[str, int] = {}
    started = time.perf_counter()
    for raw in raws:
        found = read_signals(parse_raw(raw), NOW)
        kinds[found.kind.value] = kinds.get(found.kind.value, 0) + 1
    elapsed = time.perf_counter() - started
    accuracy = score(manifest(), NOW).as_json()
    print(
        json.dumps(
            {
                "messages": MESSAGES,
                "kinds": dict(sorted(kinds.items())),
                "classify_msgs_per_s": round(MESSAGES / elapsed),
                "target_msgs_per_s": 1000,
                **accuracy,
            }
        )
    )


if __name__ == "__main__":
    main()
