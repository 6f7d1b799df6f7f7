"""p50/p95 of the leads page and the leads API with 100,000 leads (target p95 < 50 ms), on
SQLite, or on PostgreSQL when INBOXCRM_BENCH_DATABASE_URL or INBOXCRM_DATABASE_URL names a
server (see benchmarks/database.py).

Prints one JSON object. Rows are bulk-inserted (as an import would), then each URL is
requested repeatedly through the real app: routing, auth, query, template.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import insert, select

from inboxcrm import create_app
from inboxcrm.accounts.models import Role
from inboxcrm.accounts.service import add_member, create_api_token, create_workspace
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Company, Lead, LeadEmail, Tag, Temperature, lead_tag
from inboxcrm.leads.service import SORTS
from inboxcrm.stages.models import Stage

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # for benchmarks.timing
from benchmarks import timing
from benchmarks.database import bench_database, dialect, finish_seed

LEADS = 100_000
REPEAT = 40
WORDS = "acme globex initech umbrella hooli stark wayne wonka tyrell cyberdyne soylent".split()


def seed(url: str) -> tuple[int, int, str, list[int]]:
    rng = random.Random(1)
    now = dt.datetime.now(dt.UTC)
    db = Database(url)
    with db.session() as s:
        ws = create_workspace(s, "Bench")
        members = [
            add_member(s, ws, f"rep{i}@bench.example", Role.rep, f"Rep {i}") for i in range(8)
        ]
        _row, token = create_api_token(s, members[0], "bench")
        stage_ids = list(s.scalars(select(Stage.id).where(Stage.workspace_id == ws.id)))
        companies = [
            Company(workspace_id=ws.id, name=f"{rng.choice(WORDS).title()} {i}")
            for i in range(2000)
        ]
        s.add_all(companies)
        tags = [Tag(workspace_id=ws.id, name=n) for n in ("vip", "event", "pilot")]
        s.add_all(tags)
        s.flush()
        company_names = {c.id: c.name for c in companies}
        ws_id, member_id = ws.id, members[0].id
        member_ids = [m.id for m in members]
        company_ids = list(company_names)
        tag_ids = [t.id for t in tags]
    with db.engine.begin() as conn:
        for start in range(0, LEADS, 10_000):
            leads, emails, tagged = [], [], []
            for i in range(start, start + 10_000):
                company_id = rng.choice(company_ids)
                name = f"{rng.choice(WORDS).title()} Person{i}"
                email = f"p{i}@{company_names[company_id].lower().replace(' ', '')}.example"
                leads.append(
                    {
                        "id": i + 1,
                        "workspace_id": ws_id,
                        "email": email,
                        "name": name,
                        "company_id": company_id,
                        "owner_id": rng.choice(member_ids),
                        "stage_id": rng.choice(stage_ids),
                        "score": rng.randint(0, 100),
                        "temperature": rng.choice(list(Temperature)),
                        # Some leads have no deal yet, or no mail yet: sorted last either way.
                        "deal_value": rng.randint(0, 50_000) if i % 4 else None,
                        "currency": "USD",
                        "source": "import",
                        "last_contacted_at": (
                            now - dt.timedelta(minutes=rng.randint(0, 200_000)) if i % 20 else None
                        ),
                        "search_text": f"{name} {email} {company_names[company_id]}".lower(),
                        "created_at": now,
                        "updated_at": now,
                    }
                )
                emails.append({"workspace_id": ws_id, "lead_id": i + 1, "email": email})
                if i % 10 == 0:
                    tagged.append({"lead_id": i + 1, "tag_id": rng.choice(tag_ids)})
            conn.execute(insert(Lead), leads)
            conn.execute(insert(LeadEmail), emails)
            conn.execute(insert(lead_tag), tagged)
    finish_seed(db.engine)
    db.dispose()
    return ws_id, member_id, token, stage_ids


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp, bench_database(Path(tmp)) as url:
        started = time.perf_counter()
        _ws, member_id, token, stage_ids = seed(url)
        seed_s = time.perf_counter() - started
        run(url, Path(tmp), seed_s, member_id, token, stage_ids)


def run(
    url: str, tmp: Path, seed_s: float, member_id: int, token: str, stage_ids: list[int]
) -> None:
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
    headers = {"Authorization": f"Bearer {token}"}
    page_urls = [
        "/leads",
        "/leads?owner=any",
        "/leads?owner=any&sort=-score",
        "/leads?owner=any&sort=name&page=1000",
        f"/leads?owner=any&stage={stage_ids[3]}",
        "/leads?owner=any&temperature=hot",
        "/leads?owner=any&tag=vip",
        "/leads?owner=any&q=wonka",
        "/leads?owner=any&q=person12345",
    ]
    api_urls = [u.replace("/leads", "/api/v1/leads", 1) for u in page_urls]
    # Every sort both ways, and deep pages of the default one.
    sort_urls = [
        *(f"/api/v1/leads?owner=any&sort={way}{s}" for s in SORTS for way in ("", "-")),
        "/api/v1/leads?owner=any&page=100",
        "/api/v1/leads?owner=any&page=1000&per_page=100",
    ]

    def measure(urls: list[str], **kw: object) -> dict[str, object]:
        return timing.measure(client, urls, REPEAT, **kw)

    client.get("/leads")  # warm caches once, as a running server would be
    result = {
        "benchmark": "leads_page",
        "leads": LEADS,
        "database": dialect(),
        "requests_per_url": REPEAT,
        "seed_s": round(seed_s, 1),
        "page": measure(page_urls),
        "api": measure(api_urls, headers=headers),
        "sorts_and_deep_pages": measure(sort_urls, headers=headers),
        "page_statements_by_url": timing.statements(client, page_urls),
        "target_p95_ms": 50,
    }
    app.extensions["inboxcrm.db"].dispose()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
