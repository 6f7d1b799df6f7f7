"""The demo workspace: a small sales team with a realistic spread of leads (deterministic)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import os
import random
import secrets
import stat
from pathlib import Path

from apscheduler.schedulers.base import BaseScheduler
from cryptography.fernet import Fernet
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role, Workspace
from inboxcrm.accounts.service import add_member, create_workspace, find_workspace
from inboxcrm.config import Settings
from inboxcrm.db import private_dir
from inboxcrm.leads.schemas import LeadCreate, LeadUpdate
from inboxcrm.leads.service import create_lead, update_lead
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.sandbox.seed import answer_one
from inboxcrm.sandbox.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from inboxcrm.sequences.seed import seed_sequences
from inboxcrm.stages.models import StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

WORKSPACE = "Northwind Demo"
# The same people as the sandbox's demo mailboxes, so "Sign in with Google" finds them.
TEAM = (
    ("ava.reed@northwind.io", "Ava Reed", Role.admin),
    ("ben.okafor@northwind.io", "Ben Okafor", Role.rep),
    ("mia.chen@northwind.io", "Mia Chen", Role.marketer),
)
COMPANIES = (
    ("Acme Logistics", "acme-logistics.com", "Logistics"),
    ("Brightpath Health", "brightpath.health", "Healthcare"),
    ("Cobalt Payments", "cobaltpay.io", "Fintech"),
    ("Dunmore Foods", "dunmore.co.uk", "Food & beverage"),
    ("Evergreen Energy", "evergreen-energy.com", "Energy"),
    ("Fjord Analytics", "fjord.no", "Software"),
    ("Granite Insurance", "granite-ins.com", "Insurance"),
    ("Helios Robotics", "heliosrobotics.de", "Manufacturing"),
    ("Ironbridge Capital", "ironbridge.capital", "Fintech"),
    ("Juniper Learning", "juniperlearn.org", "Education"),
    ("Kestrel Retail", "kestrel-retail.com", "Retail"),
    ("Lumen Media", "lumen.media", "Media"),
)
FIRST = "Alice Bruno Chiara Dev Elena Farid Grace Hiro Ines Jonas Kemi Luca Maya Nils Omar".split()
LAST = "Ahmed Berg Costa Dubois Eze Fischer Garcia Haddad Ito Jensen Kowalski Lopez".split()
TITLES = ("Head of Operations", "CFO", "VP Sales", "IT Director", "Procurement Lead", "CEO", "COO")
TAGS = ("enterprise", "inbound", "event", "referral", "pilot")
LOST = ("Went with a competitor", "No budget this year", "Went quiet", "Too early for them")


def demo_settings(settings: Settings) -> Settings:
    """Keys are generated once and kept in the instance folder, so sessions and encrypted
    tokens survive a restart of the demo."""
    path = private_dir(Path(settings.instance_dir)) / "demo-keys.json"
    if path.exists():
        if stat.S_IMODE(path.stat().st_mode) & 0o077:
            path.chmod(0o600)  # made by an older version, or copied in
        keys = json.loads(path.read_text())
    else:
        keys = {
            "secret_key": secrets.token_urlsafe(32),
            "token_key": Fernet.generate_key().decode(),
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keys, f)
    return settings.with_overrides(
        env="demo",
        secret_key=settings.secret_key or keys["secret_key"],
        token_key=settings.token_key or keys["token_key"],
        # The sandbox's simulated audience reaches the app through loopback and says who
        # it plays in X-Forwarded-For, as a proxy in front of the app would.
        trusted_proxies=settings.trusted_proxies or 1,
    )


def with_sandbox_google(settings: Settings, google: RunningSandbox) -> Settings:
    """Settings that point every Google address at a running sandbox, with its client."""
    return settings.with_overrides(
        google_client_id=DEFAULT_CLIENT_ID,
        google_client_secret=DEFAULT_CLIENT_SECRET,
        google_api_root=google.api_root,
        google_auth_uri=google.auth_uri,
        google_token_uri=google.token_uri,
        google_revoke_uri=google.revoke_uri,
        google_userinfo_uri=f"{google.url}/oauth2/v3/userinfo",
    )


LIVE_MAIL_EVERY = dt.timedelta(minutes=3)  # a lead answers, so the demo's scores move


def live_mail(clock: BaseScheduler, google: RunningSandbox) -> None:
    """Every few minutes a lead answers the team's latest unanswered message in the
    sandbox's Gmail; the next poll syncs it and the lead's score and temperature move."""
    clock.add_job(answer_one, "interval", args=[google.state], id="demo_live_mail",
                  seconds=LIVE_MAIL_EVERY.total_seconds())  # fmt: skip


def seed(session: Session, now: dt.datetime) -> Workspace:
    """Create the demo workspace once; later runs find it and change nothing."""
    existing = find_workspace(session, WORKSPACE)
    if existing is not None:
        return existing
    rng = random.Random(7)
    workspace = create_workspace(session, WORKSPACE, domain="northwind.io")
    workspace.lead_inboxes = ["sales@northwind.io"]  # the sandbox's sales@ lands with Ava
    team = [add_member(session, workspace, email, role, name) for email, name, role in TEAM]
    admin, rep = team[0], team[1]
    scope = Scope(session, workspace.id)
    stages = list_stages(scope)
    weights = [30, 18, 10, 9, 6, 5, 6, 10, 6]
    for i in range(60):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company, domain, _industry = rng.choice(COMPANIES)
        lead = create_lead(
            scope,
            LeadCreate(
                email=f"{first}.{last}{i}@{domain}".lower(),
                name=f"{first} {last}",
                company=company,
                title=rng.choice(TITLES),
                owner_id=rng.choice([admin.id, rep.id, rep.id]),
                tags=rng.sample(TAGS, rng.randint(0, 2)),
                deal_value=decimal.Decimal(rng.randrange(2, 120) * 500),
                source=rng.choice(("manual", "gmail", "import", "api")),
            ),
            admin,
            now - dt.timedelta(days=rng.randint(20, 90)),
        )
        stage = rng.choices(stages, weights)[0]
        owner = admin if lead.owner_id == admin.id else rep  # the owner moves it along
        # Through the pipeline a stage at a time, as a team works (the odd skip aside), so
        # the reports' cohorts move on as they would.
        opened = [s for s in stages if s.kind is StageKind.open]
        if stage.kind is StageKind.open:
            path = opened[1 : opened.index(stage) + 1]
        elif stage.kind is StageKind.won:
            path = [*opened[1:], stage]
        else:  # lost, nurture, unqualified: from somewhere along the way
            path = [*opened[1 : rng.randint(1, len(opened))], stage]
        if len(path) > 2 and rng.random() < 0.15:
            path.pop(rng.randrange(len(path) - 1))  # skipped a stage
        at = lead.created_at
        for step in path:
            at = min(at + dt.timedelta(days=rng.randint(1, 12)), now - dt.timedelta(hours=1))
            reason = {"lost_reason": rng.choice(LOST)} if step.kind is StageKind.lost else {}
            update_lead(scope, lead, LeadUpdate(stage_id=step.id, **reason), owner, at)
        lead.rescore_at = now  # its fit (title, company) scores on the clock's next tick
        lead.last_contacted_at = now - dt.timedelta(hours=rng.randint(1, 24 * 45))
        if rng.random() < 0.6:
            lead.last_replied_at = lead.last_contacted_at - dt.timedelta(hours=rng.randint(1, 72))
    session.flush()
    seed_sequences(scope, team[2], now)  # a nurture running, cold leads being re-engaged
    return workspace


def team(session: Session, workspace: Workspace) -> list[Member]:
    return list(
        session.scalars(
            select(Member).where(Member.workspace_id == workspace.id).order_by(Member.id)
        )
    )
