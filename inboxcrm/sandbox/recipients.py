"""How the sandbox's outside recipients answer mail: bounce, auto-reply, reply, or nothing.

A behaviour is set for one address, or spread over every outside recipient by rates: an
address falls in a rate's band by a seeded hash of itself, so a rate of 0.3 picks the
same 30 % of addresses every run, whatever the order mail is sent in.
"""

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.header import Header
from email.utils import formatdate
from typing import Any

from inboxcrm.sandbox.dsn import FAILURES, MTAS, Failure, Original, report
from inboxcrm.sandbox.state import StoredMessage

REPLIES = ("out_of_office", "automatic_reply", "reply", "unsubscribe_reply")
BEHAVIOURS = (*FAILURES, *REPLIES, "deliver")
# Seconds after sending. Refusals come back within a minute; a delayed report after the
# first retries (Postfix warns after 4 hours); vacation responders answer at once.
DELAYS = {
    **{name: 30.0 for name in FAILURES},
    "full_temp": 4 * 3600.0,
    "deferred": 4 * 3600.0,
    "out_of_office": 60.0,
    "automatic_reply": 60.0,
    "reply": 2 * 3600.0,
    "unsubscribe_reply": 3 * 3600.0,
    "deliver": 0.0,
}
REPLY_TEXT = "Thanks for reaching out. Could we talk on Tuesday afternoon?"
UNSUBSCRIBE_TEXT = "Please remove me from your mailing list. Unsubscribe."


def fraction(seed: str, salt: str, address: str) -> float:
    """A stable number in [0, 1) for an address: the same every run and every machine."""
    digest = hashlib.sha256(f"{seed}\0{salt}\0{address.lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass
class Behaviour:
    name: str
    mta: str = "gmail"  # who writes a bounce report: gmail, microsoft or postfix
    delay: float | None = None  # seconds after sending; None: DELAYS[name]
    language: str = "en"  # of an out-of-office reply
    away_days: int = 7  # an out-of-office reply's return date, days after the mail
    text: str | None = None  # of a reply

    def __post_init__(self) -> None:
        if self.name not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {self.name!r}: use one of {', '.join(BEHAVIOURS)}")
        if self.mta not in MTAS:
            raise ValueError(f"unknown mta {self.mta!r}: use one of {', '.join(MTAS)}")
        if self.language not in AWAY:
            raise ValueError(f"unknown language {self.language!r}: use one of {', '.join(AWAY)}")
        self.delay = None if self.delay is None else float(self.delay)
        self.away_days = int(self.away_days)
        self.text = None if self.text is None else str(self.text)
        if (self.delay is not None and self.delay < 0) or not 0 <= self.away_days <= 366:
            raise ValueError("delay must be seconds, 0 or more; away_days 0 to 366")

    @property
    def failure(self) -> Failure | None:
        return FAILURES.get(self.name)

    def seconds(self) -> float:
        return DELAYS[self.name] if self.delay is None else self.delay


@dataclass
class Recipients:
    """Behaviours by address (these addresses exist), and rates over all outside recipients."""

    people: dict[str, Behaviour] = field(default_factory=dict)
    rates: dict[str, float] = field(default_factory=dict)
    seed: str = "sandbox"

    def set(self, address: str, values: dict[str, Any]) -> Behaviour:
        behaviour = Behaviour(**values)
        self.people[address.lower()] = behaviour
        return behaviour

    def set_rates(self, rates: dict[str, Any], seed: str | None = None) -> None:
        checked = {str(k): float(v) for k, v in rates.items()}
        for name, rate in checked.items():
            Behaviour(name)
            if not 0 <= rate <= 1:
                raise ValueError(f"rate of {name} must be between 0 and 1")
        if sum(checked.values()) > 1:
            raise ValueError("recipient rates add up to more than 1")
        self.rates = checked
        self.seed = self.seed if seed is None else str(seed)

    def knows(self, address: str) -> bool:
        return address.lower() in self.people

    def behaviour(self, address: str) -> Behaviour | None:
        """This address's behaviour: its own, else the band its hash falls in, else none."""
        address = address.lower()
        if address in self.people:
            return self.people[address]
        at = fraction(self.seed, "recipient", address)
        for name, rate in self.rates.items():
            if at < rate:
                mta = MTAS[int(fraction(self.seed, "mta", address) * len(MTAS))]
                language = LANGUAGES[int(fraction(self.seed, "language", address) * len(LANGUAGES))]
                return Behaviour(name, mta=mta, language=language)
            at -= rate
        return None

    def resource(self) -> dict[str, Any]:
        return {
            "people": {a: asdict(b) for a, b in self.people.items()},
            "rates": self.rates,
            "seed": self.seed,
        }


def answer(behaviour: Behaviour, original: StoredMessage, recipient: str, now: float) -> bytes:
    """The mail that comes back: a bounce report, an auto-reply or the lead's reply."""
    p = original.parsed
    sender = (p.addresses("from") or [""])[0]
    failure = behaviour.failure
    if failure is not None:
        head = original.raw.replace(b"\r\n", b"\n").split(b"\n\n", 1)[0].replace(b"\n", b"\r\n")
        quoted = Original(sender, recipient, p.header("subject"), p.header("message-id"), head)
        return report(failure, behaviour.mta, quoted, now)
    if behaviour.name == "out_of_office":
        return _away(behaviour, original, sender, recipient, now)
    if behaviour.name == "automatic_reply":
        return _exchange(original, sender, recipient, now)
    text = behaviour.text or (UNSUBSCRIBE_TEXT if behaviour.name == "unsubscribe_reply" else (
        REPLY_TEXT
    ))  # fmt: skip
    return _reply(original, sender, recipient, "Re: ", text, now, [])


def _reply(
    original: StoredMessage,
    sender: str,
    recipient: str,
    prefix: str,
    text: str,
    now: float,
    extra: list[str],
) -> bytes:
    p = original.parsed
    subject = p.header("subject")
    if not subject.lower().startswith(prefix.lower().strip()):
        subject = prefix + subject
    if not subject.isascii():
        subject = Header(subject, "utf-8").encode()  # RFC 2047, as mail clients write it
    refs = (p.header("references") + " " + p.header("message-id")).strip()
    domain = recipient.rpartition("@")[2]
    stamp = hashlib.sha256(f"{p.header('message-id')}{recipient}{prefix}".encode()).hexdigest()
    lines = [
        f"From: {recipient}",
        f"To: {sender}",
        f"Subject: {subject}",
        f"Date: {formatdate(now)}",
        f"Message-ID: <{stamp[:24]}@{domain}>",
        f"In-Reply-To: {p.header('message-id')}",
        f"References: {refs}",
        *extra,
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=UTF-8",
        "Content-Transfer-Encoding: 8bit",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n" + text.replace("\n", "\r\n") + "\r\n").encode()


# Out-of-office replies: (subject prefix, text with {date}, date format). Each language's
# responder writes the return date its own way.
AWAY = {
    "en": ("Out of Office: ", "I am out of the office until {date} with limited access to"
           " email. I will reply when I am back.", "%B %d, %Y"),
    "de": ("Abwesenheitsnotiz: ", "Vielen Dank für Ihre Nachricht. Ich bin bis einschließlich"
           " {date} nicht im Büro und habe keinen Zugriff auf meine E-Mails.", "%d.%m.%Y"),
    "fr": ("Réponse automatique : ", "Bonjour, je suis absent(e) du bureau jusqu'au {date}."
           " Je répondrai à votre message dès mon retour.", "%d/%m/%Y"),
    "es": ("Fuera de la oficina: ", "Gracias por su mensaje. Estaré fuera de la oficina hasta"
           " el {date}, con acceso limitado al correo.", "%d/%m/%Y"),
    "nl": ("Afwezig: ", "Bedankt voor uw bericht. Ik ben afwezig tot en met {date} en lees"
           " mijn e-mail niet.", "%d-%m-%Y"),
}  # fmt: skip
LANGUAGES = tuple(AWAY)


def _away(
    behaviour: Behaviour, original: StoredMessage, sender: str, recipient: str, now: float
) -> bytes:
    """A vacation responder's answer (RFC 3834): Auto-Submitted, with a return date."""
    prefix, text, fmt = AWAY[behaviour.language]
    back = datetime.fromtimestamp(now + behaviour.away_days * 86400, UTC)
    headers = ["Auto-Submitted: auto-replied", "X-Autoreply: yes", "Precedence: auto_reply"]
    body = text.format(date=back.strftime(fmt))
    return _reply(original, sender, recipient, prefix, body, now, headers)


def _exchange(original: StoredMessage, sender: str, recipient: str, now: float) -> bytes:
    """Exchange's "Automatic reply:", which sets no Auto-Submitted (only its own headers)."""
    back = datetime.fromtimestamp(now + 3 * 86400, UTC).strftime("%A, %B %d")
    headers = [
        f"Thread-Topic: {original.parsed.header('subject')}",
        "X-Auto-Response-Suppress: All",
        "X-MS-Exchange-Inbox-Rules-Loop: " + recipient,
        "Content-Language: en-US",
    ]
    text = f"Thank you for your email. I am travelling until {back} and will answer then."
    return _reply(original, sender, recipient, "Automatic reply: ", text, now, headers)
