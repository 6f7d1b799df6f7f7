"""Stage labels both ways, against the sandbox's Gmail through the real client libraries:
labels made and followed per mailbox, a label in Gmail moving a lead at the next sync, a
move in inboxcrm relabelling the threads through the outbox, and the conflicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Role, SyncState, Workspace
from inboxcrm.db import Database, utcnow
from inboxcrm.gmail.calls import GmailCalls, RetryPolicy
from inboxcrm.gmail.pacing import TokenBucket
from inboxcrm.labels.mapping import CHECK_EVERY
from inboxcrm.labels.models import StageLabel
from inboxcrm.labels.to_gmail import Relabelled, claim_relabels, relabel_mailbox
from inboxcrm.leads.models import Lead
from inboxcrm.leads.moves import move_lead
from inboxcrm.mail.models import Thread
from inboxcrm.mail.sync import sync_mailbox
from inboxcrm.pipeline import settings as editing
from inboxcrm.setup import SYNC_STEPS
from inboxcrm.stages.models import ChangeSource, Stage, StageChange
from inboxcrm.tenancy import Scope
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.clocks import SandboxClock
from tests.support.mail import ANSWER, PROPOSAL, raw_eml
from tests.support.sandbox import AVA, BEN, Control, deliver
from tests.support.web import sign_in

# Zed wrote to Ava, who never answered: not a lead under the default policy.
ZED = raw_eml(
    "From: Zed Stone <zed@newco.example>",
    f"To: {AVA}",
    "Subject: Partnership",
    "Message-ID: <zed@newco.example>",
    "Date: Wed, 18 Nov 2026 09:00:00 +0000",
)


class Team:
    """A workspace with Ava's (and optionally Ben's) mailbox, synced and relabelled for
    real; time is the sandbox's clock, moved only by our own waits."""

    def __init__(
        self, db: Database, session: Session, control: Control, gmail: Callable[..., Any]
    ) -> None:
        self.db, self.session, self.control = db, session, control
        self.workspace: Workspace = WorkspaceFactory(domain="northwind.io")
        self.clock = SandboxClock(control)
        self.services: dict[str, Any] = {}
        self.calls: dict[str, GmailCalls] = {}
        self.boxes: dict[str, Mailbox] = {}
        self.gmail = gmail
        self.admin: Member | None = None

    def connect(self, email: str, role: Role = Role.rep) -> Mailbox:
        box = MailboxFactory(workspace=self.workspace, email=email, role=role)
        if role is Role.admin:
            self.admin = self.session.get_one(Member, box.member_id)
        self.boxes[email] = box
        self.services[email] = self.gmail(email)
        self.calls[email] = GmailCalls(
            self.gmail(email), TokenBucket(self.clock), clock=self.clock,
            policy=RetryPolicy(attempts=3), random=lambda: 0.5,
        )  # fmt: skip
        return box

    def now(self) -> dt.datetime:
        return self.clock.now()

    def sync(self, email: str = AVA) -> None:
        assert sync_mailbox(
            self.db, self.boxes[email].id, self.calls[email], self.now, SYNC_STEPS
        ) is (SyncState.idle)
        self.session.expire_all()

    def relabel(self, email: str = AVA) -> Relabelled:
        at = self.now()
        claimed = claim_relabels(self.db, at).get(self.boxes[email].id, [])
        done = relabel_mailbox(
            self.db, self.boxes[email].id, claimed, self.calls[email], self.now, at
        )
        self.session.expire_all()
        return done

    def label_id(self, name: str, email: str = AVA) -> str:
        labels = self.services[email].users().labels().list(userId="me").execute()["labels"]
        return str(next(lb["id"] for lb in labels if lb["name"] == name))

    def thread_of(self, subject: str, email: str = AVA) -> str:
        answer = self.services[email].users().threads().list(userId="me", q=subject).execute()
        return str(answer["threads"][0]["id"])

    def label(
        self, thread: str, add: Sequence[str] = (), remove: Sequence[str] = (), email: str = AVA
    ) -> None:
        """A rep changes a thread's labels in Gmail (by label name)."""
        body = {
            "addLabelIds": [self.label_id(n, email) for n in add],
            "removeLabelIds": [self.label_id(n, email) for n in remove],
        }
        self.services[email].users().threads().modify(userId="me", id=thread, body=body).execute()

    def labels_on(self, thread: str, email: str = AVA) -> set[str]:
        """The stage label names a thread carries in Gmail."""
        service = self.services[email]
        names = {
            lb["id"]: lb["name"]
            for lb in service.users().labels().list(userId="me").execute()["labels"]
        }
        answer = service.users().threads().get(userId="me", id=thread, format="minimal").execute()
        ids = {i for m in answer["messages"] for i in m.get("labelIds", [])}
        return {names[i] for i in ids if names[i].startswith("CRM/")}

    def lead(self, email: str) -> Lead:
        return self.session.scalars(select(Lead).where(Lead.email == email)).unique().one()

    def stage(self, name: str) -> Stage:
        return self.session.scalars(
            select(Stage).where(Stage.workspace_id == self.workspace.id, Stage.name == name)
        ).one()

    def move(self, lead: Lead, stage: str, at: dt.datetime | None = None) -> None:
        """A rep moves the lead on the board (any move by a member goes this way)."""
        assert self.admin is not None
        scope = Scope(self.session, self.workspace.id)
        move_lead(scope, lead, self.stage(stage), source=ChangeSource.member,
                  now=at or self.now(), member_id=self.admin.id)  # fmt: skip
        self.session.commit()

    def changes(self, lead: Lead) -> list[tuple[str, str, str]]:
        rows = self.session.scalars(
            select(StageChange).where(StageChange.lead_id == lead.id).order_by(StageChange.id)
        )
        return [(c.source.value, c.to_stage.name if c.to_stage else "", c.detail) for c in rows]


@pytest.fixture
def crm(db: Database, session: Session, control: Control, gmail: Callable[..., Any]) -> Team:
    crm = Team(db, session, control, gmail)
    crm.connect(AVA, Role.admin)
    return crm


def _nina(crm: Team) -> tuple[Lead, str]:
    deliver(crm.control, AVA, PROPOSAL, sent=True)
    deliver(crm.control, AVA, ANSWER)
    crm.sync()
    return crm.lead("nina.berg@vandelay.co.uk"), crm.thread_of("Proposal")


def test_each_stage_but_the_entry_one_gets_a_label_once_and_an_existing_one_is_adopted(
    crm: Team,
) -> None:
    users = crm.services[AVA].users()
    mine = users.labels().create(userId="me", body={"name": "crm/mql"}).execute()
    crm.sync()
    rows = crm.session.scalars(select(StageLabel).order_by(StageLabel.stage_id)).all()
    assert [r.wanted for r in rows] == [
        "CRM/MQL", "CRM/SAL", "CRM/SQL", "CRM/SQO", "CRM/Won", "CRM/Lost", "CRM/Nurture",
        "CRM/Unqualified",
    ]  # fmt: skip
    assert rows[0].gmail_id == mine["id"]  # adopted: Gmail names compare case-insensitively
    labels = [lb["name"] for lb in users.labels().list(userId="me").execute()["labels"]]
    assert sorted(n for n in labels if n.lower().startswith("crm/")) == sorted(
        ["crm/mql"] + [r.wanted for r in rows[1:]]
    )
    # Later passes within CHECK_EVERY look at nothing; after it, one labels.list.
    before = crm.calls[AVA].stats.calls
    crm.sync()
    assert crm.calls[AVA].stats.calls - before == 1  # the history poll only
    crm.clock.sleep(CHECK_EVERY.total_seconds())
    before = crm.calls[AVA].stats.calls
    crm.sync()
    assert crm.calls[AVA].stats.calls - before == 2
    assert len(users.labels().list(userId="me").execute()["labels"]) == len(labels)


def test_a_label_put_on_in_gmail_moves_the_lead_and_a_board_move_relabels_without_echo(
    crm: Team,
) -> None:
    nina, thread = _nina(crm)
    assert nina.stage.name == "Lead"
    crm.label(thread, add=["CRM/SQL"])
    crm.sync()
    nina = crm.lead(nina.email)
    assert nina.stage.name == "SQL"
    [(source, to, detail)] = crm.changes(nina)
    assert (source, to) == ("label", "SQL")
    assert detail.startswith(f"CRM/SQL in {AVA}, seen ")
    assert crm.relabel().modified == 0  # nothing queued: the label says the stage already

    crm.move(nina, "SQO")
    done = crm.relabel()
    assert done.modified == 1
    assert crm.labels_on(thread) == {"CRM/SQO"}
    crm.sync()  # our own relabel comes back through history: no news
    nina = crm.lead(nina.email)
    assert nina.stage.name == "SQO"
    assert [c[:2] for c in crm.changes(nina)] == [("label", "SQL"), ("member", "SQO")]
    assert crm.relabel() == Relabelled()  # and nothing is queued again


def test_moving_to_the_entry_stage_removes_every_stage_label(crm: Team) -> None:
    nina, thread = _nina(crm)
    crm.label(thread, add=["CRM/MQL"])
    crm.sync()
    crm.move(crm.lead(nina.email), "Lead")
    crm.relabel()
    assert crm.labels_on(thread) == set()
    crm.sync()
    assert crm.lead(nina.email).stage.name == "Lead"


def test_a_labelled_thread_without_a_lead_makes_one_whatever_the_policy(crm: Team) -> None:
    deliver(crm.control, AVA, ZED)
    crm.sync()
    assert crm.session.scalars(select(Lead)).first() is None  # Ava never answered
    crm.label(crm.thread_of("Partnership"), add=["CRM/MQL"])
    crm.sync()
    zed = crm.lead("zed@newco.example")
    assert zed.stage.name == "MQL"
    assert zed.name == "Zed Stone"
    assert [c[:2] for c in crm.changes(zed)] == [("label", "MQL")]


def test_two_stage_labels_the_later_wins_and_the_other_is_removed_in_gmail(crm: Team) -> None:
    nina, thread = _nina(crm)
    crm.label(thread, add=["CRM/SQL"])
    crm.sync()
    crm.label(thread, add=["CRM/Won"])  # SQL stays on: the rep forgot to take it off
    crm.sync()
    nina = crm.lead(nina.email)
    assert nina.stage.name == "Won"
    assert crm.relabel().modified == 1
    assert crm.labels_on(thread) == {"CRM/Won"}
    crm.sync()
    assert [c[:2] for c in crm.changes(crm.lead(nina.email))] == [
        ("label", "SQL"),
        ("label", "Won"),
    ]


def test_removing_the_only_label_changes_nothing_and_ten_toggles_make_one_change(
    crm: Team,
) -> None:
    nina, thread = _nina(crm)
    crm.label(thread, add=["CRM/SQL"])
    crm.sync()
    crm.label(thread, remove=["CRM/SQL"])
    crm.sync()
    assert crm.lead(nina.email).stage.name == "SQL"
    for _ in range(10):  # a rep who cannot decide, within one poll
        crm.label(thread, add=["CRM/MQL"], remove=["CRM/SQL"])
        crm.label(thread, add=["CRM/SQL"], remove=["CRM/MQL"])
    crm.label(thread, add=["CRM/MQL"], remove=["CRM/SQL"])
    crm.sync()
    assert crm.lead(nina.email).stage.name == "MQL"
    assert [c[:2] for c in crm.changes(crm.lead(nina.email))] == [
        ("label", "SQL"),
        ("label", "MQL"),
    ]
    # Put back to a stage the lead is in already: no change at all.
    crm.label(thread, remove=["CRM/MQL"])
    crm.label(thread, add=["CRM/MQL"])
    crm.sync()
    assert len(crm.changes(crm.lead(nina.email))) == 2


def test_the_first_sync_adopts_labels_already_on_mail_once_per_lead(
    db: Database, session: Session, control: Control, gmail: Callable[..., Any]
) -> None:
    crm = Team(db, session, control, gmail)
    service = gmail(AVA)
    ids = {
        name: service.users().labels().create(userId="me", body={"name": name}).execute()["id"]
        for name in ("CRM/SQL", "CRM/MQL")
    }
    sql = [ids["CRM/SQL"]]
    control("deliver", {"to": AVA, "eml": PROPOSAL, "labelIds": ["SENT", *sql]})
    control("deliver", {"to": AVA, "eml": ANSWER, "labelIds": ["INBOX", *sql]})
    other = PROPOSAL.replace("Proposal", "Pricing").replace("<proposal@", "<pricing@")
    control("deliver", {"to": AVA, "eml": other, "labelIds": ["SENT", *sql]})
    now = control("clock", method="GET")["now"]
    control("clock", {"now": now - 70 * 86400})  # Zed wrote 70 days ago
    control("deliver", {"to": AVA, "eml": ZED, "labelIds": ["INBOX", ids["CRM/MQL"]]})
    control("clock", {"now": now})
    crm.connect(AVA, Role.admin)
    crm.sync()
    nina, zed = crm.lead("nina.berg@vandelay.co.uk"), crm.lead("zed@newco.example")
    assert (nina.stage.name, zed.stage.name) == ("SQL", "MQL")
    for lead in (nina, zed):
        [(source, _to, detail)] = crm.changes(lead)
        assert source == "label"
        assert detail.endswith("; initial sync")
    # Dated by the thread's newest mail, not the sync: days in stage count from then.
    moved_at = session.scalars(select(StageChange.changed_at).where(StageChange.lead_id == zed.id))
    newest = session.scalars(
        select(Thread.last_message_at).where(Thread.subject == "Partnership")
    ).one()
    assert list(moved_at) == [newest]
    assert newest < utcnow() - dt.timedelta(days=69)
    # No storm: nothing queued for Gmail, and the next passes change nothing.
    queued = session.scalar(select(func.count()).where(Thread.relabel_at.is_not(None)))
    assert queued == 0
    crm.sync()
    assert session.scalar(select(func.count()).select_from(StageChange)) == 2


def test_a_label_renamed_in_gmail_keeps_working_and_a_deleted_one_is_recreated(
    crm: Team, client: Any
) -> None:
    nina, thread = _nina(crm)
    users = crm.services[AVA].users()
    sql, mql = crm.label_id("CRM/SQL"), crm.label_id("CRM/MQL")
    users.labels().patch(userId="me", id=sql, body={"name": "Deals/Qualified"}).execute()
    users.labels().delete(userId="me", id=mql).execute()
    crm.clock.sleep(CHECK_EVERY.total_seconds())  # the periodic look
    crm.sync()
    rows = {r.stage.name: r for r in crm.session.scalars(select(StageLabel))}
    assert (rows["SQL"].gmail_id, rows["SQL"].name) == (sql, "Deals/Qualified")
    assert rows["MQL"].gmail_id != mql
    assert rows["MQL"].recreated_at is not None
    assert crm.label_id("CRM/MQL") == rows["MQL"].gmail_id

    crm.label(thread, add=["Deals/Qualified"])
    crm.sync()
    assert crm.lead(nina.email).stage.name == "SQL"
    crm.label(thread, add=["CRM/MQL"], remove=["Deals/Qualified"])
    crm.sync()
    assert crm.lead(nina.email).stage.name == "MQL"

    assert crm.admin is not None
    page = sign_in(client, crm.admin).get("/settings/stages").text
    assert "Deals/Qualified" in page
    assert "deleted in Gmail and recreated" in page


def test_renaming_a_stage_renames_its_label_in_every_mailbox(crm: Team) -> None:
    crm.connect(BEN)
    crm.sync(AVA)
    crm.sync(BEN)
    before = {r.mailbox_id: r.gmail_id for r in crm.session.scalars(select(StageLabel))
              .all() if r.wanted == "CRM/SAL"}  # fmt: skip
    assert crm.admin is not None
    scope = Scope(crm.session, crm.workspace.id)
    editing.rename_stage(scope, crm.admin, crm.stage("SAL"), "Accepted")
    crm.session.commit()
    crm.sync(AVA)
    crm.sync(BEN)
    for email, box in crm.boxes.items():
        assert crm.label_id("CRM/Accepted", email) == before[box.id]  # same label, renamed


def test_a_429_storm_during_relabel_is_retried_later_and_nothing_is_lost(crm: Team) -> None:
    nina, thread = _nina(crm)
    crm.move(nina, "SQL")
    crm.control(
        "faults",
        {"kind": "error", "status": 429, "count": 3, "operation": "threads.modify",
         "reason": "rateLimitExceeded"},
    )  # fmt: skip
    done = crm.relabel()  # three tries, three 429s: the thread stays queued
    assert (done.modified, done.deferred) == (0, 1)
    assert crm.labels_on(thread) == set()
    assert crm.relabel() == Relabelled()  # not due yet: deferred, not retried in a loop
    crm.clock.sleep(180)
    assert crm.relabel().modified == 1
    assert crm.labels_on(thread) == {"CRM/SQL"}
    crm.sync()
    assert [c[:2] for c in crm.changes(crm.lead(nina.email))] == [("member", "SQL")]


def test_a_move_made_while_a_relabel_is_under_way_is_not_lost(crm: Team) -> None:
    nina, thread = _nina(crm)
    crm.move(nina, "SQL")
    at = crm.now()
    claimed = claim_relabels(crm.db, at)[crm.boxes[AVA].id]
    crm.move(crm.lead(nina.email), "SQO")  # lands between the claim and the Gmail call
    relabel_mailbox(crm.db, crm.boxes[AVA].id, claimed, crm.calls[AVA], crm.now, at)
    crm.session.expire_all()
    assert crm.labels_on(thread) == {"CRM/SQO"}  # read when the job ran: the latest stage
    assert crm.relabel().unchanged == 1  # queued again by the second move, already right


def test_board_and_label_at_the_same_moment_the_later_seen_wins_and_labels_agree(
    crm: Team,
) -> None:
    """Gmail does not say when a label was put on, so inboxcrm orders the two by when it
    learns of each: a label at the sync that reads it, a board move when it is made."""
    nina, thread = _nina(crm)
    crm.label(thread, add=["CRM/SQL"])  # in Gmail...
    crm.move(nina, "Won")  # ...and on the board before the next sync
    crm.sync()  # the label is seen last: it wins
    nina = crm.lead(nina.email)
    assert nina.stage.name == "SQL"
    assert [c[:2] for c in crm.changes(nina)] == [("member", "Won"), ("label", "SQL")]
    crm.relabel()
    assert crm.labels_on(thread) == {"CRM/SQL"}

    crm.move(nina, "SQO")  # now the board is last, before any relabel or sync
    crm.label(thread, add=["CRM/Lost"], remove=["CRM/SQL"])
    crm.relabel()  # the relabel writes the board's stage over the unseen label
    crm.sync()
    nina = crm.lead(nina.email)
    assert nina.stage.name == "SQO"
    assert crm.labels_on(thread) == {"CRM/SQO"}


def test_a_lead_moved_by_a_label_in_one_mailbox_is_relabelled_in_the_others(crm: Team) -> None:
    crm.connect(BEN)
    deliver(crm.control, AVA, PROPOSAL, sent=True)
    deliver(crm.control, AVA, ANSWER)
    deliver(crm.control, BEN, PROPOSAL)
    deliver(crm.control, BEN, ANSWER)
    crm.sync(AVA)
    crm.sync(BEN)
    ava_thread, ben_thread = crm.thread_of("Proposal", AVA), crm.thread_of("Proposal", BEN)
    crm.label(ben_thread, add=["CRM/MQL"], email=BEN)
    crm.sync(BEN)
    crm.label(ava_thread, add=["CRM/SQL"])
    crm.sync(AVA)
    assert crm.lead("nina.berg@vandelay.co.uk").stage.name == "SQL"
    crm.relabel(BEN)
    assert crm.labels_on(ben_thread, BEN) == {"CRM/SQL"}
    crm.sync(BEN)
    assert crm.lead("nina.berg@vandelay.co.uk").stage.name == "SQL"


def test_a_new_thread_of_a_lead_past_the_entry_stage_gets_its_stage_label(crm: Team) -> None:
    nina, first = _nina(crm)
    crm.move(nina, "SQL")
    crm.relabel()
    assert crm.labels_on(first) == {"CRM/SQL"}
    follow_up = raw_eml(
        f"From: Ava Reed <{AVA}>",
        "To: nina.berg@vandelay.co.uk",
        "Subject: Pricing sheet",
        "Message-ID: <pricing@northwind.io>",
        "Date: Fri, 20 Nov 2026 09:00:00 +0000",
    )
    deliver(crm.control, AVA, follow_up, sent=True)
    crm.sync()
    assert crm.relabel().modified == 1
    assert crm.labels_on(crm.thread_of("Pricing")) == {"CRM/SQL"}
    crm.sync()  # and it comes back as no news
    assert [c[:2] for c in crm.changes(crm.lead(nina.email))] == [("member", "SQL")]
