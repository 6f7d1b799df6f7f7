"""Local throughput of parse_message over varied Gmail `format=full` resources.

Prints one JSON object. Messages are real RFC 5322 messages built with the stdlib and
shaped as Gmail returns them (the tests' helper): plain, alternative, nested with inline
images and attachments, encoded-word names, long Cc lists, forwards and bounces, from
a pool of 2,000 distinct people. The first pass runs with cold caches (as a new mailbox's
full sync does) and is the figure that counts; later passes show the warm rate.
"""

import json
import pickle
import random
import sys
import time
import unicodedata
from email.message import EmailMessage
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for the tests' JSON helper

from inboxcrm.mail.parse import parse_message
from inboxcrm.mail.sanitize import sanitize_html
from tests.support.gmail_json import to_gmail_json

MESSAGES = 2500
PEOPLE = 2000
ROUNDS = 3
FIRST = ["Ann", "Bob", "Carol", "José", "Zoë", "Łukasz", "Mei", "Søren", "Aïcha", "Dan"]
LAST = ["Smith", "Müller", "Lee", "O'Brien", "García", "Nakamura", "Dubois", "Ivanova"]
DOMAINS = ["acme.com", "client.co.uk", "bücher.de", "northwind.io", "gmail.com", "firma.de"]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text.replace("ł", "l").replace("ø", "o"))
    return folded.encode("ascii", "ignore").decode()


def people(rng: random.Random) -> list[str]:
    """Names with accents, as people write them; addresses mostly ASCII, as mail systems
    hand them out (one in twenty keeps its accents: SMTPUTF8 mail exists, rarely)."""
    out = []
    for i in range(PEOPLE):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        local = f"{first}.{last}{i}".lower().replace("'", "")
        if i % 20:
            local = _ascii(local)
        out.append(f'"{last}, {first}" <{local}@{rng.choice(DOMAINS)}>')
    return out


POOL = people(random.Random(7))


def person(rng: random.Random) -> str:
    return rng.choice(POOL)


def message(rng: random.Random, i: int) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = person(rng)
    msg["To"] = ", ".join(person(rng) for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.3:
        msg["Cc"] = ", ".join(person(rng) for _ in range(rng.randint(1, 20)))
    msg["Subject"] = rng.choice(["Re: Angebot für Q3 — Preise", "Pricing", "Déjà vu", "Hi"])
    msg["Date"] = "Mon, 23 Nov 2026 09:15:00 +0100"
    msg["Message-ID"] = f"<m{i}@bench.acme.com>"
    msg["References"] = " ".join(f"<r{i - k}@bench.acme.com>" for k in range(rng.randint(0, 6)))
    text = "Hello,\n" + "Here is a line of a realistic business email body.\n" * rng.randint(3, 60)
    msg.set_content(text)
    kind = i % 5
    if kind >= 1:
        msg.add_alternative(
            f"<html><body><p>{text.replace(chr(10), '<br>')}</p></body></html>", subtype="html"
        )
    if kind >= 3:
        html = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
        html.add_related(b"\x89PNG" * 200, "image", "png", cid=f"<img{i}@acme>")
    if kind == 4:
        msg.add_attachment(b"%PDF" * 2000, "application", "pdf", filename="Angebot.pdf")
    return msg


def sample(count: int) -> list[dict[str, Any]]:
    """`count` varied Gmail resources, the same on every run, four to a thread (Gmail
    itself starts a new thread past 100 messages)."""
    rng = random.Random(42)
    return [
        to_gmail_json(message(rng, i), gmail_id=f"{i:016x}", thread_id=f"{i // 4:016x}")
        for i in range(count)
    ]


def main() -> None:
    resources = sample(MESSAGES)
    rates = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        parsed = [parse_message(r) for r in resources]
        rates.append(MESSAGES / (time.perf_counter() - started))
    cold, warm = rates[0], max(rates[1:])
    started = time.perf_counter()
    for p in parsed:
        sanitize_html(p.html_body, allow_remote_images=False)
    sanitize_rate = MESSAGES / (time.perf_counter() - started)
    # What sending the parsed messages back from a pool worker costs, both sides.
    started = time.process_time()
    pickle.loads(pickle.dumps(parsed, pickle.HIGHEST_PROTOCOL))  # noqa: S301 (our own bytes)
    pool_return = (time.process_time() - started) / MESSAGES * 1e6
    print(
        json.dumps(
            {
                "messages": MESSAGES,
                "parse_msgs_per_s": round(cold),
                "parse_msgs_per_s_warm": round(warm),
                "parse_and_sanitize_msgs_per_s": round(1 / (1 / cold + 1 / sanitize_rate)),
                "pool_return_us_per_msg": round(pool_return, 1),
                "target_msgs_per_s": 2000,
            }
        )
    )


if __name__ == "__main__":
    main()
