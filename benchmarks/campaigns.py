"""Segments and templates, the parts measurable before the outbox: a saved segment's count
over 100,000 leads with their activities (a nested filter, 3 levels, with activity
conditions, one of them "opened campaign X" of a campaign sent to 20,000 of them; target
p95 < 200 ms), the merge render of a typical template (target >= 10,000
messages/s), the builder's live-count request through the app (target p95 < 250 ms), and
a campaign's launch to 10,000 of those leads: the audience checked and rendered, the Send
rows planned through the outbox (target <= 5 s).

SQLite by default, PostgreSQL when INBOXCRM_BENCH_DATABASE_URL or INBOXCRM_DATABASE_URL
names a server (benchmarks/database.py). Prints one JSON object.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import func, insert, select

from inboxcrm import create_app
from inboxcrm.accounts.models import Mailbox, Member, Role
from inboxcrm.accounts.service import add_member, connect_mailbox, create_workspace
from inboxcrm.campaigns.models import Campaign
from inboxcrm.campaigns.render import compile_template, merge_context
from inboxcrm.campaigns.service import Draft, create_campaign, launch
from inboxcrm.campaigns.templates import create_template
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Activity, ActivityKind, Company, Lead, Tag, Temperature, lead_tag
from inboxcrm.outbox.checks import UNMARKETABLE
from inboxcrm.outbox.models import Send, SendState, SourceKind
from inboxcrm.outbox.settings import save_settings
from inboxcrm.segments.filters import parse
from inboxcrm.segments.service import count, create_segment
from inboxcrm.stages.models import Stage
from inboxcrm.tenancy import Scope

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.timing
from benchmarks import timing
from benchmarks.database import bench_database, dialect, finish_seed

LEADS = 100_000
ACTIVITIES_PER_LEAD = 3  # on average: replies, opens, bounces, meetings ...
REPEAT = 30
RENDERS = 20_000
TITLES = ["CFO", "CTO", "VP Sales", "Head of Marketing", "Engineer", None]
KINDS = [
    ActivityKind.message_in,
    ActivityKind.message_out,
    ActivityKind.reply,
    ActivityKind.open,
    ActivityKind.click,
    ActivityKind.bounce,
    ActivityKind.meeting,
    ActivityKind.unsubscribe,
]

CAMPAIGN_SENDS = 20_000  # an earlier campaign's audience, a third of it opened it


def nested(campaign_id: int) -> dict[str, Any]:
    """Three levels, with activity conditions and a negation: the kind of segment a
    marketer builds ("open deals, engaged or senior or opened the last campaign, not
    bounced")."""
    opened = {"field": "activity", "kind": "open", "op": "within_days", "value": 90,
              "of": {"campaign": campaign_id}}  # fmt: skip
    return {
        "and": [
            {"field": "stage_kind", "op": "in", "value": ["open", "nurture"]},
            {"not": {"field": "activity", "kind": "bounce", "op": "ever"}},
            {
                "or": [
                    {"field": "activity", "kind": "reply", "op": "within_days", "value": 30},
                    {
                        "and": [
                            {"field": "score", "op": "gte", "value": 40},
                            {"field": "title", "op": "contains", "value": "c"},
                        ]
                    },
                    {"field": "tag", "op": "has", "value": "vip"},
                    opened,
                ]
            },
        ]
    }


SUBJECT = "{{ lead.first_name | default('Hi') }}, a question about {{ company.name }}"
BODY = """Hi {{ lead.first_name | default("there") }},

I noticed **{{ company.name | default("your team") }}** is hiring
{% if lead.title %}and that you look after this as {{ lead.title }}{% endif %}.

Would a 15-minute call next week help? Here is [a short overview](https://team.example/tour).

Best,
{{ sender.name }}
"""


def seed(url: str) -> tuple[int, int, int]:
    rng = random.Random(7)
    now = dt.datetime.now(dt.UTC)
    db = Database(url)
    with db.session() as s:
        ws = create_workspace(s, "Bench")
        members = [
            add_member(s, ws, f"m{i}@bench.example", Role.marketer, f"M {i}") for i in range(4)
        ]
        stage_ids = list(s.scalars(select(Stage.id).where(Stage.workspace_id == ws.id)))
        companies = [Company(workspace_id=ws.id, name=f"Company {i}") for i in range(2000)]
        s.add_all(companies)
        tags = [Tag(workspace_id=ws.id, name=n) for n in ("vip", "event", "pilot")]
        s.add_all(tags)
        s.flush()
        ws_id, member_id = ws.id, members[0].id
        member_ids = [m.id for m in members]
        company_ids = [c.id for c in companies]
        tag_ids = [t.id for t in tags]
    with db.engine.begin() as conn:
        for start in range(0, LEADS, 10_000):
            leads, tagged, acts = [], [], []
            for i in range(start, start + 10_000):
                leads.append(
                    {
                        "id": i + 1,
                        "workspace_id": ws_id,
                        "email": f"p{i}@bench{i % 500}.example",
                        "name": f"Person {i}",
                        "company_id": rng.choice(company_ids),
                        "owner_id": rng.choice(member_ids),
                        "stage_id": rng.choice(stage_ids),
                        "title": rng.choice(TITLES),
                        "score": rng.randint(0, 100),
                        "temperature": rng.choice(list(Temperature)),
                        "currency": "USD",
                        "source": "import",
                        "search_text": f"person {i}",
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                if i % 10 == 0:
                    tagged.append({"lead_id": i + 1, "tag_id": rng.choice(tag_ids)})
                for _ in range(rng.randint(0, 2 * ACTIVITIES_PER_LEAD)):
                    acts.append(
                        {
                            "workspace_id": ws_id,
                            "lead_id": i + 1,
                            "kind": rng.choice(KINDS),
                            "occurred_at": now - dt.timedelta(minutes=rng.randint(0, 300_000)),
                            "detail": {},
                        }
                    )
            conn.execute(insert(Lead), leads)
            conn.execute(insert(lead_tag), tagged)
            conn.execute(insert(Activity), acts)
    with db.session() as s:
        campaign_id = _sent_campaign(s, ws_id, member_ids[1], now, rng)
        s.commit()
    finish_seed(db.engine)
    db.dispose()
    return ws_id, member_id, campaign_id


def _sent_campaign(s: Any, ws_id: int, member_id: int, now: dt.datetime, rng: random.Random) -> int:
    """A campaign sent weeks ago to CAMPAIGN_SENDS leads, a third of whom opened it (the
    open naming its Send, as the classifier writes it) and some replied."""
    scope = Scope(s, ws_id)
    sender = s.get_one(Member, member_id)
    sender.role = Role.admin
    mailbox = connect_mailbox(s, sender, sender.email, b"", frozenset())
    template = create_template(scope, sender, "Earlier", SUBJECT, BODY, now)
    segment = create_segment(scope, sender, "Earlier", {"and": []})
    campaign = create_campaign(
        scope, sender,
        Draft(name="Earlier", template_id=template.id, segment_id=segment.id,
              mailbox_id=mailbox.id), now,
    )  # fmt: skip
    sent_at = now - dt.timedelta(days=20)
    leads = rng.sample(range(1, LEADS + 1), CAMPAIGN_SENDS)
    s.execute(insert(Send), [
        {"workspace_id": ws_id, "source_kind": SourceKind.campaign, "source_id": str(campaign.id),
         "lead_id": lead, "mailbox_id": mailbox.id, "to_email": f"p{lead - 1}@x.example",
         "subject": "Earlier", "state": SendState.sent, "sent_at": sent_at}
        for lead in leads
    ])  # fmt: skip
    sends = dict(
        s.execute(select(Send.lead_id, Send.id).where(Send.source_id == str(campaign.id))).all()
    )
    s.execute(insert(Activity), [
        {"workspace_id": ws_id, "lead_id": lead, "kind": ActivityKind.open,
         "occurred_at": sent_at + dt.timedelta(hours=rng.randint(1, 300)),
         "send_id": sends[lead], "detail": {}}
        for lead in leads[: CAMPAIGN_SENDS // 3]
    ])  # fmt: skip
    return campaign.id


def segment_counts(url: str, ws_id: int, campaign_id: int) -> dict[str, Any]:
    db = Database(url)
    node = parse(nested(campaign_id))
    wall: list[float] = []
    # This process's CPU time: SQLite's whole work (not PostgreSQL's), however busy the
    # machine is with other work.
    cpu: list[float] = []
    found = 0
    with db.sessions() as s:
        scope = Scope(s, ws_id)
        count(scope, node, dt.datetime.now(dt.UTC))  # warm
        for _ in range(REPEAT):
            started, cpu_started = time.perf_counter(), time.process_time()
            found = count(scope, node, dt.datetime.now(dt.UTC))
            wall.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
    db.dispose()
    return {
        "p50_ms": round(statistics.median(wall), 2),
        "p95_ms": timing.p95(wall),
        "process_cpu_p95_ms": timing.p95(cpu),
        "matched": found,
    }


def render_rate() -> float:
    compiled = compile_template(SUBJECT, BODY)
    contexts = [
        merge_context(
            {"first_name": f"Ann{i}", "name": f"Ann{i} Archer", "title": TITLES[i % 6]},
            {"name": f"Company {i}"},
            {"name": "Sam Sender"},
        )
        for i in range(1000)
    ]
    started = time.perf_counter()
    for i in range(RENDERS):
        compiled.render(contexts[i % 1000])
    return round(RENDERS / (time.perf_counter() - started))


def builder_updates(url: str, tmp: Path, member_id: int, campaign_id: int) -> dict[str, Any]:
    app = create_app(
        Settings(
            env="test",
            database_url=url,
            instance_dir=tmp,
            secret_key="b" * 40,
            token_key=Fernet.generate_key().decode(),
        )
    )
    app.config["WTF_CSRF_ENABLED"] = False
    client = app.test_client()
    timing.sign_in(client, member_id)
    # What the builder sends as she edits: the filter growing a condition at a time.
    full = nested(campaign_id)
    steps = [
        {"and": full["and"][:1]},
        {"and": full["and"][:2]},
        full,
    ]
    client.post("/segments/preview", json={"filter": full})  # warm
    wall: list[float] = []
    for i in range(REPEAT):
        started = time.perf_counter()
        answer = client.post("/segments/preview", json={"filter": steps[i % len(steps)]})
        wall.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200, answer.text
    app.extensions["inboxcrm.db"].dispose()
    return {"p50_ms": round(statistics.median(wall), 2), "p95_ms": timing.p95(wall)}


LAUNCH = 10_000


def launch_10k(url: str, ws_id: int, member_id: int) -> dict[str, Any]:
    """A campaign to 10,000 marketable leads (tagged for it), from the marketer's mailbox:
    the launch's wall time, audience and planning included, and its commit."""
    db = Database(url)
    with db.session() as s:
        scope = Scope(s, ws_id)
        marketer = s.get_one(Member, member_id)
        admin = add_member(s, marketer.workspace, "admin@bench.example", Role.admin, "Admin")
        save_settings(s, admin, "Bench Inc., 1 Main St", True)
        connect_mailbox(s, marketer, marketer.email, b"", frozenset())
        tag = Tag(workspace_id=ws_id, name="launch")
        s.add(tag)
        s.flush()
        ids = list(
            s.scalars(
                select(Lead.id)
                .join(Stage, Stage.id == Lead.stage_id)
                .where(Lead.workspace_id == ws_id, Stage.kind.not_in(UNMARKETABLE))
                .order_by(Lead.id)
                .limit(LAUNCH)
            )
        )
        s.execute(insert(lead_tag), [{"lead_id": i, "tag_id": tag.id} for i in ids])
        now = dt.datetime.now(dt.UTC)
        template = create_template(scope, marketer, "Bench", SUBJECT, BODY, now)
        segment = create_segment(scope, marketer, "Launch",
                                 {"field": "tag", "op": "has", "value": "launch"})  # fmt: skip
        mailbox_id = s.scalars(select(Mailbox.id).where(Mailbox.member_id == member_id)).one()
        campaign = create_campaign(
            scope, marketer,
            Draft(name="Bench", template_id=template.id, segment_id=segment.id,
                  mailbox_id=mailbox_id), now,
        )  # fmt: skip
        s.commit()
        campaign_id = campaign.id
    with db.session() as s:
        scope = Scope(s, ws_id)
        marketer = s.get_one(Member, member_id)
        started = time.perf_counter()
        launched = launch(
            scope, marketer, scope.get(Campaign, campaign_id), dt.datetime.now(dt.UTC)
        )
        s.commit()
        wall = time.perf_counter() - started
        planned = launched.planned
        sends = s.scalar(
            select(func.count()).select_from(Send).where(Send.source_id == str(campaign_id))
        )
    db.dispose()
    return {"seconds": round(wall, 2), "planned": planned, "sends": sends}


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as url:
        started = time.perf_counter()
        ws_id, member_id, campaign_id = seed(url)
        seed_s = time.perf_counter() - started
        counts = segment_counts(url, ws_id, campaign_id)
        builder = builder_updates(url, Path(tmp), member_id, campaign_id)
        launched = launch_10k(url, ws_id, member_id)
    result = {
        "benchmark": "campaigns",
        "database": dialect(),
        "leads": LEADS,
        "seed_s": round(seed_s, 1),
        "segment_count_p95_ms": counts["p95_ms"],
        "segment_count": counts,
        "render_msgs_per_s": render_rate(),
        "builder_update_p95_ms": builder["p95_ms"],
        "builder_update": builder,
        "launch_10k_s": launched["seconds"],
        "launch": launched,
        "targets": {
            "segment_count_p95_ms": 200,
            "render_msgs_per_s": 10_000,
            "builder_update_p95_ms": 250,
            "launch_10k_s": 5,
        },
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
