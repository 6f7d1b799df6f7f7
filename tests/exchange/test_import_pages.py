"""The import as an admin goes through it on the pages, and through the API."""

from __future__ import annotations

import io

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.exchange.jobs import imports_due
from inboxcrm.exchange.models import LeadImport
from inboxcrm.leads.models import Lead
from inboxcrm.runtime import Runtime
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.web import csrf_token, sign_in

PIPEDRIVE = (
    "Person - Name,Person - Email - Work,Organization - Name,Deal - Value,Person - Labels\n"
    'Ann Lee,ann@acme.example,Acme,"1,500",hot;fair\n'
    "Bob,bob-at-nowhere,Nowhere,,\n"
)


def _clock(db: Database, settings: Settings) -> None:
    runtime = Runtime(db, settings, workers=1)
    try:
        imports_due(runtime, utcnow())
    finally:
        runtime.stop()


def test_an_admin_uploads_maps_dry_runs_imports_and_undoes(
    client: FlaskClient, session: Session, db: Database, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    sign_in(client, admin)
    page = client.get("/leads/import")
    assert page.status_code == 200
    uploaded = client.post(
        "/leads/import",
        data={
            "csrf_token": csrf_token(page.text),
            "file": (io.BytesIO(PIPEDRIVE.encode()), "deals.csv"),
        },
        content_type="multipart/form-data",
    )
    assert uploaded.status_code == 302
    mapping = client.get(uploaded.location)
    assert '<option value="email" selected>' in mapping.text
    assert "Ann Lee" in mapping.text  # the first rows show beside their columns
    fields = {
        f"column-{i}": f for i, f in enumerate(["name", "email", "company", "ignore", "tags"])
    }
    planned = client.post(
        f"{uploaded.location}/mapping", data={"csrf_token": csrf_token(mapping.text), **fields}
    )
    page = client.get(planned.location).text
    assert 'data-count="created">1<' in page
    assert 'data-count="refused">1<' in page
    assert "&#39;bob-at-nowhere&#39; is not an email address" in page
    client.post(f"{uploaded.location}/run", data={"csrf_token": csrf_token(page)})
    assert client.get(f"{uploaded.location}/progress").json["state"] == "queued"
    _clock(db, settings)
    status = client.get(f"{uploaded.location}/progress").json
    assert (status["state"], status["created"], status["percent"]) == ("done", 1, 100)
    ann = session.scalars(select(Lead).where(Lead.email == "ann@acme.example")).one()
    assert ann.deal_value is None  # the column was left out
    assert sorted(t.name for t in ann.tags) == ["fair", "hot"]
    page = client.get(uploaded.location).text
    client.post(f"{uploaded.location}/undo", data={"csrf_token": csrf_token(page)})
    _clock(db, settings)
    assert client.get(f"{uploaded.location}/progress").json["state"] == "undone"
    session.expire_all()
    assert session.scalars(select(Lead).where(Lead.email == "ann@acme.example")).first() is None


def test_a_file_that_is_no_csv_is_refused_on_the_page(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    sign_in(client, admin)
    page = client.get("/leads/import")
    refused = client.post(
        "/leads/import",
        data={
            "csrf_token": csrf_token(page.text),
            "file": (io.BytesIO(b"\x00\x01\x02PK"), "x.xlsx"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "this is not a CSV file" in refused.text


def test_a_rep_gets_no_import_form_and_cannot_post_one(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory(role=Role.rep)
    sign_in(client, rep)
    page = client.get("/leads/import")
    assert "Only admins import leads" in page.text
    refused = client.post(
        "/leads/import",
        data={
            "csrf_token": csrf_token(page.text),
            "file": (io.BytesIO(b"Email\na@b.example\n"), "a.csv"),
        },
        content_type="multipart/form-data",
    )
    assert refused.status_code == 422
    assert "only admins can import leads" in refused.text


def test_the_api_imports_with_the_same_steps_and_errors(
    client: FlaskClient, session: Session, db: Database, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    LeadFactory(owner=admin, email="ann@acme.example", name="Ann")
    token = {"Authorization": f"Bearer {api_token(admin)}"}
    made = client.post(
        "/api/v1/imports?filename=a.csv",
        data=PIPEDRIVE,
        headers={**token, "Content-Type": "text/csv"},
    )
    assert made.status_code == 201
    assert made.json["mapping"][:3] == ["name", "email", "company"]
    url = made.headers["Location"]
    early = client.post(f"{url}/run", headers=token)
    assert early.status_code == 409
    assert "dry run first" in early.json["error"]["message"]
    bad = client.post(
        f"{url}/dry-run",
        json={"mapping": ["name", "name", "company", "ignore", "tags"]},
        headers=token,
    )
    assert bad.status_code == 422
    assert "both map to Name" in bad.json["error"]["message"]
    plan = client.post(f"{url}/dry-run", json={}, headers=token).json
    assert (plan["created"], plan["updated"], plan["refused"]) == (0, 1, 1)
    assert plan["refusals"][0]["row"] == 3
    assert client.post(f"{url}/run", headers=token).status_code == 202
    _clock(db, settings)
    assert client.get(url, headers=token).json["state"] == "done"
    assert client.post(f"{url}/undo", headers=token).status_code == 202
    _clock(db, settings)
    assert client.get(url, headers=token).json["state"] == "undone"
    session.expire_all()
    assert session.scalars(select(Lead).where(Lead.email == "ann@acme.example")).one().name == "Ann"
    other = MemberFactory(role=Role.admin)
    theirs = {"Authorization": f"Bearer {api_token(other)}"}
    assert client.get(url, headers=theirs).status_code == 404  # another workspace's import
    assert session.scalar(select(LeadImport.id)) is not None
