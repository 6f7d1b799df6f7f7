"""Seed data: `empty` (the team's accounts, no mail) and `demo` (a small company's mail).

The demo is deterministic (fixed random seed, dates counted back from midnight UTC of
the sandbox's today): two reps and a marketer at Northwind, ~60 leads across 14
companies, a few hundred threads over 90 days with replies, forwards, HTML bodies,
attachments, out-of-office replies, newsletters, bounces and CRM stage labels.

So that scores mean something once synced (`_Demo.engagement`): leads who answer
within the hour and accept a meeting (hot), who answer now and then (warm), who were
keen a month ago and went quiet (cold), who wrote to sales@ first, asked to be left
alone, or whose address bounced (hard, and a full mailbox); out-of-office replies
state their return date in several languages. `answer_one` is the demo's live mail: a
lead answering the team's latest unanswered message, a few minutes apart.
"""

import base64
import random
import time
from dataclasses import dataclass, field
from email.utils import formataddr, formatdate

from inboxcrm.sandbox.delivery import bounce, reply_from
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
HOUR = 3600
SALES = f"sales@{DOMAIN}"  # the lead inbox: a group that lands in Ava's mailbox
# Out-of-office notes in their languages: (subject prefix, text with the return date).
AWAY = (
    ("Automatic reply: ", "I am out of the office until {en} with limited access to email."),
    ("Abwesenheitsnotiz: ", "Ich bin bis einschließlich {de} nicht im Büro."),
    ("Réponse automatique : ", "Je suis absente du bureau et serai de retour le {fr}."),
    ("Respuesta automática: ", "Estaré fuera de la oficina hasta el {es}."),
    ("Resposta automática: ", "Estou ausente até {pt}, com acesso limitado ao email."),
    ("Automatisch antwoord: ", "Ik ben afwezig tot en met {nl}."),
    ("Risposta automatica: ", "Sono fuori ufficio fino al {it}."),
)
MONTHS = {
    "en": "January February March April May June July August September October November "
          "December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre "
          "décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre "
          "diciembre",
    "pt": "janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro "
          "dezembro",
    "nl": "januari februari maart april mei juni juli augustus september oktober november "
          "december",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre "
          "novembre dicembre",
}  # fmt: skip
# Who does what in `engagement` (indexes into the leads): their own mail, not the
# random conversations, so each reads as its story.
HOT, WARM, QUIET, INQUIRING = (0, 7, 14), (21, 28), (3, 10, 17), (35, 42)
UNSUBSCRIBING, BOUNCED, MAILBOX_FULL = 49, 24, 31
SCRIPTED = {*HOT, *WARM, *QUIET, *INQUIRING, UNSUBSCRIBING}


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
    at: float = 0.0  # a scripted thread's latest message (see `_Demo.engagement`)


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
            if n in SCRIPTED:
                continue
            for k in range(1 + (n % 3) + (1 if n % 5 == 0 else 0)):
                self.conversation(lead, seed=n * 7 + k)
        self.campaign()
        self.newsletters()
        self.bounces()
        self.engagement()

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
        copies: tuple[str, ...] = (),
        raw: bytes | None = None,
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
        if raw is None:
            raw = _mime(head, text, html, attachment, f"{self.seq:012d}")
        thread.refs.append(message_id)
        stored = {}
        recent = when > self.state.clock.now() - 3 * DAY
        for email in [sender[1], *(t[1] for t in to), *copies]:
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
        self,
        thread: _Thread,
        lead: tuple[str, str],
        rep: tuple[str, str],
        t: float,
        language: int | None = None,
    ) -> None:
        """An auto-reply in the lead's language (AWAY's), back a week or two after `t`."""
        prefix, note = AWAY[sum(map(ord, lead[1])) % len(AWAY) if language is None else language]
        back = time.gmtime(t + self.rng.randrange(7, 15) * DAY)
        dates = {lang: f"{back.tm_mday} {names.split()[back.tm_mon - 1]}"
                 for lang, names in MONTHS.items()}  # fmt: skip
        dates["de"] = f"{back.tm_mday}. {MONTHS['de'].split()[back.tm_mon - 1]}"
        self.message(
            thread,
            lead,
            [rep],
            t,
            note.format(**dates),
            subject=prefix + thread.subject,
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

    # -- what scores read -----------------------------------------------------------------
    def engagement(self) -> None:
        now = self.state.clock.now()
        for n in HOT:  # quick answers this week and a meeting accepted
            lead = self.leads[n]
            thread = self.opener(lead, "a demo of Northwind", now - (6 - n % 3) * DAY)
            if n == HOT[0]:  # away first, in English, then back and keen
                self.out_of_office(thread, (lead.name, lead.email),
                                   (self.account(lead.owner).name, lead.owner),
                                   thread.at + 600, language=0)  # fmt: skip
            self.answer(thread, lead, "Interesting, can you show us next week?", 50 * 60)
            self.from_rep(thread, lead, "Sure: I have sent an invitation for Thursday.", HOUR)
            self.answer(thread, lead, "Got it, looking forward to it.", 40 * 60)
            self.accept(thread, lead, calendar=n != HOT[-1])
        for n in WARM:  # an answer the same day, another days later
            lead = self.leads[n]
            thread = self.opener(lead, "pricing for your team", now - 9 * DAY)
            self.answer(thread, lead, "Thanks, I'll share this with my manager.", 5 * HOUR)
            self.from_rep(thread, lead, "Happy to answer any questions.", DAY)
            self.answer(thread, lead, "We are still discussing it internally.", 4 * DAY)
        for n in QUIET:  # keen a month ago, nothing since: gone cold
            lead = self.leads[n]
            thread = self.opener(lead, "the Q3 renewal", now - 40 * DAY)
            self.answer(thread, lead, "Yes, let's set up a call.", 2 * HOUR)
            self.accept(thread, lead, calendar=True)
            self.answer(thread, lead, "Great call, thanks. We'll get back to you.", 2 * DAY)
            self.from_rep(thread, lead, "Just checking in on the renewal.", 10 * DAY)
        for n in INQUIRING:  # wrote to sales@ first, got a quick answer
            lead = self.leads[n]
            rep = self.account(AVA)
            thread = _Thread(f"Question about Northwind for {lead.company}")
            at = now - (2 + n % 3) * DAY
            self.message(thread, (lead.name, lead.email), [("Northwind Sales", SALES)], at,
                         "Hi, we are looking for an analytics tool. Could we talk?",
                         copies=(AVA,))  # fmt: skip
            self.message(thread, (rep.name, rep.email), [(lead.name, lead.email)], at + HOUR,
                         f"Hi {lead.name.split()[0]}, of course: how about tomorrow?")  # fmt: skip
            self.answer(thread, lead, "Tomorrow at 10 works.", 3 * HOUR)
        lead = self.leads[UNSUBSCRIBING]
        thread = self.opener(lead, "our new dashboards", now - 5 * DAY)
        self.answer(thread, lead, "Please remove me from your mailing list.", 6 * HOUR)
        for n, status in ((BOUNCED, "5.1.1"), (MAILBOX_FULL, "5.2.2")):
            lead = self.leads[n]
            self.opener(lead, "checking in", now - 3 * DAY)
            self.returned(lead, status)

    def opener(self, lead: Lead, topic: str, at: float) -> _Thread:
        rep = self.account(lead.owner)
        thread = _Thread(f"{lead.company} <> Northwind: {topic}")
        hello = f"Hi {lead.name.split()[0]},\n\n"
        text = f"{hello}I'd love to show you how Northwind helps with {topic}."
        stored = self.message(thread, (rep.name, rep.email), [(lead.name, lead.email)], at,
                              text, html=True)  # fmt: skip
        thread.at = at
        self.sent = stored[rep.email]
        return thread

    def answer(self, thread: _Thread, lead: Lead, text: str, after: float) -> None:
        rep = self.account(lead.owner)
        thread.at += after
        self.message(thread, (lead.name, lead.email), [(rep.name, rep.email)], thread.at, text)

    def from_rep(self, thread: _Thread, lead: Lead, text: str, after: float) -> None:
        rep = self.account(lead.owner)
        thread.at += after
        self.message(thread, (rep.name, rep.email), [(lead.name, lead.email)], thread.at, text)

    def accept(self, thread: _Thread, lead: Lead, calendar: bool) -> None:
        """The lead's calendar accepts the rep's invitation: an iCalendar REPLY, or the
        "Accepted:" mail Google Calendar sends. It answers the invitation, which the rep's
        calendar sent: a thread of its own in the rep's mailbox."""
        rep = self.account(lead.owner)
        thread.at += 2 * HOUR
        at, thread = thread.at, _Thread("")
        thread.at = at
        day = time.gmtime(thread.at + 3 * DAY)
        summary = f"Northwind x {lead.company}"
        text = f"{lead.name} has accepted this invitation."
        subject = (f"Accepted: {summary} @ {time.strftime('%a %d %b %Y', day)} "
                   f"3pm - 3:30pm (UTC) ({rep.email})")  # fmt: skip
        if not calendar:
            self.message(thread, (lead.name, lead.email), [(rep.name, rep.email)], thread.at,
                         text, subject=subject)  # fmt: skip
            return
        ics = "\r\n".join((
            "BEGIN:VCALENDAR", "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "VERSION:2.0", "METHOD:REPLY", "BEGIN:VEVENT",
            f"DTSTART:{time.strftime('%Y%m%dT150000Z', day)}",
            f"DTSTAMP:{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(thread.at))}",
            f"ORGANIZER;CN={rep.name}:mailto:{rep.email}", f"UID:demo-{self.seq}@google.com",
            "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;"
            f'CN="{lead.name}";X-NUM-GUESTS=0:mailto:{lead.email}',
            f"SUMMARY:{summary}", "STATUS:CONFIRMED", "END:VEVENT", "END:VCALENDAR",
        ))  # fmt: skip
        head = {"From": formataddr((lead.name, lead.email)),
                "To": formataddr((rep.name, rep.email)), "Subject": subject,
                "Date": formatdate(thread.at), "Message-ID": f"<cal.{self.seq}@google.com>",
                "MIME-Version": "1.0"}  # fmt: skip
        body = _multipart("alternative", f"cal{self.seq:012d}", [
            f"Content-Type: text/plain; charset=UTF-8\r\n\r\n{text}\r\n",
            f'Content-Type: text/calendar; charset="UTF-8"; method=REPLY\r\n\r\n{ics}\r\n',
        ])  # fmt: skip
        raw = ("".join(f"{k}: {v}\r\n" for k, v in head.items()) + body).encode()
        self.message(thread, (lead.name, lead.email), [(rep.name, rep.email)], thread.at, text,
                     raw=raw)  # fmt: skip

    def returned(self, lead: Lead, status: str) -> None:
        """The rep's last message to the lead comes back: Gmail's report for an address
        that no longer exists (hard), Postfix's for a full mailbox (soft)."""
        rep = self.account(lead.owner)
        at_ms = self.sent.internal_date + 95_000
        if status == "5.1.1":
            bounce(rep.mailbox, self.sent, [lead.email], "unknown", at_ms)
            return
        domain = lead.email.split("@")[1]
        said = f"552 5.2.2 <{lead.email}>: Mailbox full, quota exceeded"
        original = self.sent.raw.split(b"\r\n\r\n", 1)[0].decode()
        self.seq += 1
        raw = (
            f"From: MAILER-DAEMON@mail.{domain} (Mail Delivery System)\r\n"
            f"To: {rep.email}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
            f"Date: {formatdate(at_ms / 1000)}\r\n"
            f"Message-ID: <bounce.{self.seq}@mail.{domain}>\r\n"
            "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="PF"\r\n\r\n'
            "--PF\r\nContent-Description: Notification\r\nContent-Type: text/plain\r\n\r\n"
            f"This is the mail system at host mail.{domain}.\r\n\r\nI'm sorry to have to "
            "inform you that your message could not\r\nbe delivered to one or more "
            f"recipients.\r\n\r\n<{lead.email}>: host mx.{domain} said: {said}\r\n\r\n"
            "--PF\r\nContent-Description: Delivery report\r\n"
            "Content-Type: message/delivery-status\r\n\r\n"
            f"Reporting-MTA: dns; mail.{domain}\r\n\r\n"
            f"Final-Recipient: rfc822; {lead.email}\r\nOriginal-Recipient: rfc822;{lead.email}"
            f"\r\nAction: failed\r\nStatus: {status}\r\nRemote-MTA: dns; mx.{domain}\r\n"
            f"Diagnostic-Code: smtp; {said}\r\n\r\n"
            "--PF\r\nContent-Description: Undelivered Message Headers\r\n"
            f"Content-Type: text/rfc822-headers\r\n\r\n{original}\r\n--PF--\r\n"
        ).encode()
        rep.mailbox.add(raw, {"INBOX", "CATEGORY_UPDATES"}, internal_date=at_ms)


# What a lead says when the demo's live mail has them answer.
ANSWERS = (
    "Thanks, this looks good. Can we talk this week?",
    "Sounds interesting: could you send the pricing?",
    "Let me check with my team and come back to you.",
    "Yes, let's move forward. What are the next steps?",
)


def answer_one(state: State) -> StoredMessage | None:
    """The demo's live mail: the lead the team wrote to most recently, and who has not
    answered yet, answers now (None when every lead has). The demo calls it every few
    minutes, so new mail keeps arriving and scores keep moving."""
    with state.lock:
        waiting: list[tuple[int, Account, StoredMessage, str]] = []
        for rep in REPS:
            account = state.accounts.get(rep)
            if account is None:
                continue
            mailbox = account.mailbox
            for ids in mailbox.threads.values():
                latest = max((mailbox.messages[i] for i in ids), key=lambda m: m.internal_date)
                to = latest.parsed.header("to")
                lead = to.rsplit("<", 1)[-1].rstrip(">").strip().lower()
                if "SENT" in latest.label_ids and "," not in to and lead in state.contacts:
                    waiting.append((latest.internal_date, account, latest, to))
        if not waiting:
            return None
        _, account, original, to = max(waiting, key=lambda w: w[0])
        text = ANSWERS[original.internal_date // 1000 % len(ANSWERS)]
        return reply_from(state, account.mailbox, original, to, text)


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
