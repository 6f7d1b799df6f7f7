"""Seed data: `empty` (the team's accounts, no mail) and `demo` (a small company's mail).

The demo is deterministic (fixed random seed, dates counted back from midnight UTC of
the sandbox's today): two reps and a marketer at Northwind, ~60 leads across 14
companies, a few hundred threads over 90 days with replies, forwards, HTML bodies,
attachments, out-of-office replies, newsletters, bounces and CRM stage labels.
"""

import base64
import random
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate

from inboxcrm.sandbox.delivery import bounce
from inboxcrm.sandbox.labels import Label
from inboxcrm.sandbox.state import Account, State, StoredMessage

DOMAIN = "northwind.io"
AVA, BEN, MIA = (f"{n}@{DOMAIN}" for n in ("ava.reed", "ben.okafor", "mia.chen"))
TEAM = ((AVA, "Ava Reed"), (BEN, "Ben Okafor"), (MIA, "Mia Chen"))
REPS = (AVA, BEN)
COMPANIES = (
    ("Acme Robotics", "acme-robotics.com"),
    ("Globex", "globex.com"),
    ("Initech", "initech.io"),
    ("Umbrella Health", "umbrella-health.com"),
    ("Hooli", "hooli.com"),
    ("Stark Industries", "stark-industries.co.uk"),
    ("Wayne Enterprises", "wayne-enterprises.com"),
    ("Soylent", "soylent.co"),
    ("Cyberdyne", "cyberdyne.ai"),
    ("Tyrell", "tyrell.com"),
    ("Wonka Foods", "wonka-foods.com"),
    ("Pied Piper", "piedpiper.io"),
    ("Vandelay Industries", "vandelay.com"),
    ("Oscorp", "oscorp.de"),
)
FIRST = ("Carol Dan Erin Frank Grace Heidi Ivan Judy Ken Laura Mallory Nina Oscar Peggy Quinn "
         "Rita Sam Trent Uma Victor Wendy Xavier Yara Zane").split()  # fmt: skip
LAST = "Shaw Patel Novak Kim Garcia Moreau Rossi Jensen Silva Tanaka Okoye Berg".split()
TOPICS = ("pricing for the analytics plan", "a pilot for your data team", "the Q3 renewal",
          "security questionnaire", "integration with your warehouse", "seat expansion",
          "the onboarding workshop", "your dashboard rollout")  # fmt: skip
STAGES = ("MQL", "SAL", "SQL", "SQO", "Won", "Lost", "Nurture")
NEWSLETTERS = (("SaaS Weekly", "news@saasweekly.com"), ("Growth Digest", "digest@growthmail.co"))
DAY = 86400


def apply(state: State, name: str) -> None:
    if name not in ("empty", "demo"):
        raise ValueError(f"unknown seed {name!r}: use empty or demo")
    for email, full_name in TEAM:
        state.add_account(email, full_name)
    if name == "demo":
        with state.lock:
            _Demo(state).populate()


@dataclass
class Lead:
    name: str
    email: str
    company: str
    owner: str


@dataclass
class _Thread:
    """One conversation; each mailbox that holds it has its own thread id."""

    subject: str
    ids: dict[str, str] = field(default_factory=dict)
    refs: list[str] = field(default_factory=list)


class _Demo:
    def __init__(self, state: State) -> None:
        self.state = state
        self.rng = random.Random(4)
        self.today = state.clock.now() // DAY * DAY
        self.seq = 0
        self.leads = self._leads()
        state.contacts.update(lead.email for lead in self.leads)
        state.contacts.update(addr for _, addr in NEWSLETTERS)

    def _leads(self) -> list[Lead]:
        leads: list[Lead] = []
        for i, (company, domain) in enumerate(COMPANIES):
            for _ in range(4 + i % 2):
                first, last = self.rng.choice(FIRST), self.rng.choice(LAST)
                email = f"{first.lower()}.{last.lower()}@{domain}"
                if all(lead.email != email for lead in leads):
                    leads.append(Lead(f"{first} {last}", email, company, REPS[i % 2]))
        return leads

    def account(self, email: str) -> Account:
        return self.state.accounts[email]

    def populate(self) -> None:
        for rep in REPS:
            mailbox = self.account(rep).mailbox
            for stage in STAGES:
                label_id = mailbox.new_label_id()
                mailbox.labels[label_id] = Label(id=label_id, name=f"CRM/{stage}")
        for n, lead in enumerate(self.leads):
            for k in range(1 + (n % 3) + (1 if n % 5 == 0 else 0)):
                self.conversation(lead, seed=n * 7 + k)
        self.campaign()
        self.newsletters()
        self.bounces()

    # -- building blocks ------------------------------------------------------------------
    def message(
        self,
        thread: _Thread,
        sender: tuple[str, str],
        to: list[tuple[str, str]],
        when: float,
        text: str,
        *,
        subject: str | None = None,
        html: bool = False,
        attachment: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, StoredMessage]:
        self.seq += 1
        message_id = f"<demo.{self.seq}.{self.rng.randrange(16**8):08x}@{sender[1].split('@')[1]}>"
        head = {
            "From": formataddr(sender),
            "To": ", ".join(formataddr(t) for t in to),
            "Subject": subject or (("Re: " if thread.refs else "") + thread.subject),
            "Date": formatdate(when),
            "Message-ID": message_id,
            **({"In-Reply-To": thread.refs[-1], "References": " ".join(thread.refs)}
               if thread.refs else {}),
            **(headers or {}),
            "MIME-Version": "1.0",
        }  # fmt: skip
        raw = _mime(head, text, html, attachment, f"{self.seq:012d}")
        thread.refs.append(message_id)
        stored = {}
        recent = when > self.state.clock.now() - 3 * DAY
        for email in [sender[1], *(t[1] for t in to)]:
            if email not in self.state.accounts or email in stored:
                continue
            labels = {"SENT"} if email == sender[1] else {"INBOX", "CATEGORY_PERSONAL"}
            if email != sender[1] and recent:
                labels.add("UNREAD")
            mailbox = self.account(email).mailbox
            stored[email] = mailbox.add(
                raw, labels, internal_date=int(when * 1000), thread_id=thread.ids.get(email)
            )
            thread.ids.setdefault(email, stored[email].thread_id)
        return stored

    def when(self, days_ago: float) -> float:
        return self.today - days_ago * DAY + self.rng.randrange(8 * 3600, 18 * 3600)

    # -- scenarios ------------------------------------------------------------------------
    def conversation(self, lead: Lead, seed: int) -> None:
        rng = self.rng
        rep = self.account(lead.owner)
        me, them = (rep.name, rep.email), (lead.name, lead.email)
        topic = TOPICS[seed % len(TOPICS)]
        thread = _Thread(f"{lead.company} <> Northwind: {topic}")
        t = self.when(rng.randrange(2, 90))
        first = lead.name.split()[0]
        inbound = seed % 4 == 0
        if inbound:
            self.message(thread, them, [me], t, f"Hi,\n\nCould you tell me more about {topic}?")
        else:
            text = f"Hi {first},\n\nI'd love to show you how Northwind helps with {topic}."
            self.message(thread, me, [them], t, text, html=True)
        for turn in range(rng.randrange(0, 5)):
            t += rng.randrange(2 * 3600, 4 * DAY)
            if t > self.state.clock.now():
                break
            if turn % 2 == inbound:
                if seed % 11 == 3 and turn == 0:
                    self.out_of_office(thread, them, me, t)
                    continue
                self.message(thread, them, [me], t, f"Thanks {rep.name.split()[0]}, sounds good.")
            else:
                attach = "Northwind-proposal.pdf" if seed % 6 == 1 else None
                self.message(
                    thread, me, [them], t, "Here are the details.", html=True, attachment=attach
                )
        if seed % 9 == 2:  # hand the lead over to a colleague
            other = self.account(REPS[1 - REPS.index(rep.email)])
            forward = _Thread("Fwd: " + thread.subject)
            self.message(
                forward,
                me,
                [(other.name, other.email)],
                t + 3600,
                f"Can you take this one?\n\n---------- Forwarded message ---------\n"
                f"From: {lead.name} <{lead.email}>",
            )
        if seed % 5 == 0:
            self.stage_label(rep, thread, STAGES[seed % len(STAGES)])

    def out_of_office(
        self, thread: _Thread, lead: tuple[str, str], rep: tuple[str, str], t: float
    ) -> None:
        self.message(
            thread,
            lead,
            [rep],
            t,
            "I am out of the office until next week, with limited access to email.",
            subject="Automatic reply: " + thread.subject,
            headers={"Auto-Submitted": "auto-replied", "X-Autoreply": "yes"},
        )

    def stage_label(self, rep: Account, thread: _Thread, stage: str) -> None:
        mailbox = rep.mailbox
        label = mailbox.label_by_name(f"CRM/{stage}")
        tid = thread.ids.get(rep.email)
        if label is None or tid is None:
            return
        for mid in mailbox.threads[tid]:
            mailbox.modify(mailbox.messages[mid], {label.id}, set())

    def campaign(self) -> None:
        """Mia's webinar invitation to a slice of leads, with a few replies."""
        mia = self.account(MIA)
        t = self.when(20)
        for n, lead in enumerate(self.leads[::3]):
            thread = _Thread("Join our data leadership webinar")
            text = f"Hi {lead.name.split()[0]},\n\nJoin us next Thursday for a live session."
            self.message(
                thread,
                (mia.name, mia.email),
                [(lead.name, lead.email)],
                t + n * 60,
                text,
                html=True,
            )
            if n % 4 == 0:
                self.message(
                    thread,
                    (lead.name, lead.email),
                    [(mia.name, mia.email)],
                    t + DAY + n * 600,
                    "Count me in!",
                )

    def newsletters(self) -> None:
        for days_ago in range(88, 0, -7):
            for name, sender in NEWSLETTERS:
                for member in (MIA, AVA):
                    thread = _Thread(f"{name}: issue {90 - days_ago}")
                    unsubscribe = f"<https://{sender.split('@')[1]}/u/{member}>"
                    stored = self.message(
                        thread,
                        (name, sender),
                        [(member, member)],
                        self.when(days_ago),
                        "This week's top stories in B2B growth.",
                        html=True,
                        headers={
                            "List-Unsubscribe": unsubscribe,
                            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
                            "Precedence": "bulk",
                        },
                    )
                    mailbox = self.account(member).mailbox
                    mailbox.modify(stored[member], {"CATEGORY_PROMOTIONS"}, {"CATEGORY_PERSONAL"})

    def bounces(self) -> None:
        for days_ago, rep, company in ((30, AVA, COMPANIES[0]), (12, BEN, COMPANIES[3])):
            account = self.account(rep)
            lost = f"former.employee@{company[1]}"
            thread = _Thread(f"{company[0]} <> Northwind: checking in")
            stored = self.message(
                thread,
                (account.name, rep),
                [("Former Employee", lost)],
                self.when(days_ago),
                "Hi, are you still looking at this?",
            )
            bounce(
                account.mailbox, stored[rep], [lost], "unknown", stored[rep].internal_date + 90_000
            )


def _mime(head: dict[str, str], text: str, html: bool, attachment: str | None, tag: str) -> bytes:
    """A plain, alternative or mixed MIME message, written directly (the email package
    builds the same thing several times slower, and the seed makes hundreds)."""
    plain = f"Content-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n"
    body = plain
    if html:
        paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n\n"))
        rich = (
            "Content-Type: text/html; charset=UTF-8\r\n\r\n"
            f"<html><body>{paragraphs}</body></html>\r\n"
        )
        body = _multipart("alternative", f"alt{tag}", [plain, rich])
    if attachment:
        pdf = base64.b64encode(b"%PDF-1.4\n% demo proposal\n").decode()
        part = (
            f'Content-Type: application/pdf; name="{attachment}"\r\n'
            f'Content-Disposition: attachment; filename="{attachment}"\r\n'
            f"Content-Transfer-Encoding: base64\r\n\r\n{pdf}\r\n"
        )
        body = _multipart("mixed", f"mix{tag}", [body, part])
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return (lines + body).encode()


def _multipart(subtype: str, boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}\r\n{p}" for p in parts)
    return (
        f'Content-Type: multipart/{subtype}; boundary="{boundary}"\r\n\r\n{inner}--{boundary}--\r\n'
    )
