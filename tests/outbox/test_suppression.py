"""The suppression list as the dispatcher and the team use it: set-based lookups that a
domain covers, "Do not email" on the lead page and in the API, lifted by an admin only
when it was manual, and never an unsubscribe; a suppression is not a blocked address."""

from __future__ import annotations

import datetime as dt

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.errors import Conflict, Forbidden, Invalid
from inboxcrm.leads.merge import merge_leads
from inboxcrm.leads.models import BlockedAddress, Lead
from inboxcrm.outbox.models import Suppression, SuppressionReason
from inboxcrm.outbox.suppression import Suppress, do_not_email, lift, suppress, suppressed
from inboxcrm.outbox.unsubscribe import Recipient
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, WorkspaceFactory, api_token
from tests.support.web import csrf_token, sign_in

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_suppressed_finds_addresses_and_domains_for_many_at_once(session: Session) -> None:
    ws = WorkspaceFactory()
    other = WorkspaceFactory()
    suppress(session, ws.id, [
        Suppress("Ann@Acme.example", SuppressionReason.unsubscribed, "one_click"),
        Suppress("@vandelay.example", SuppressionReason.manual, "manual"),
        Suppress("@Bücher.example", SuppressionReason.complaint, "manual"),
    ], NOW)  # fmt: skip
    suppress(session, other.id, [Suppress("bob@acme.example", SuppressionReason.manual, "x")], NOW)
    session.commit()
    asked = ["ann@acme.example", "bob@acme.example", "nina@mail.vandelay.example",
             "leo@bücher.example", "eve@elsewhere.example"]  # fmt: skip
    found = suppressed(session, ws.id, asked)
    assert {a: r.reason for a, r in found.items()} == {
        "ann@acme.example": SuppressionReason.unsubscribed,
        "nina@mail.vandelay.example": SuppressionReason.manual,  # a domain covers subdomains
        "leo@bücher.example": SuppressionReason.complaint,
    }
    # The other workspace's suppression is its own.
    assert suppressed(session, other.id, ["ann@acme.example", "bob@acme.example"]).keys() == {
        "bob@acme.example"
    }
    # A public suffix is refused: it would suppress everyone under it.
    with pytest.raises(Invalid):
        suppress(session, ws.id, [Suppress("@co.uk", SuppressionReason.manual, "manual")], NOW)


def test_an_unsubscribe_replaces_a_manual_suppression_and_not_the_other_way(
    session: Session,
) -> None:
    ws = WorkspaceFactory()
    manual = Suppress("ann@acme.example", SuppressionReason.manual, "manual")
    suppress(session, ws.id, [manual], NOW)
    suppress(session, ws.id, [Suppress("ann@acme.example", SuppressionReason.unsubscribed,
                                       "one_click", send_ref="s1")], NOW)  # fmt: skip
    suppress(session, ws.id, [manual], NOW)
    session.commit()
    [row] = session.scalars(select(Suppression)).all()
    assert (row.reason, row.source, row.send_ref) == (
        SuppressionReason.unsubscribed,
        "one_click",
        "s1",
    )


def test_do_not_email_and_lift_follow_the_rules(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    other_rep = MemberFactory(workspace=admin.workspace)
    lead = LeadFactory(owner=rep, email="nina@vandelay.example")
    scope = Scope(session, admin.workspace_id)
    with pytest.raises(Forbidden):
        do_not_email(scope, other_rep, lead, None, NOW)  # another rep's lead
    with pytest.raises(Invalid, match="not an address of"):
        do_not_email(scope, rep, lead, "someone@else.example", NOW)
    row = do_not_email(scope, rep, lead, None, NOW)
    session.commit()
    assert row.reason is SuppressionReason.manual
    assert row.by_id == rep.id
    with pytest.raises(Forbidden, match="only admins"):
        lift(scope, rep, lead, row.id)
    assert lift(scope, admin, lead, row.id) == "nina@vandelay.example"
    session.commit()
    assert suppressed(session, lead.workspace_id, [lead.email]) == {}
    # Still a lead, never blocked: suppression is not the capture blocklist.
    assert session.get(Lead, lead.id) is not None
    assert session.scalars(select(BlockedAddress)).all() == []


def test_an_unsubscribe_is_never_lifted_not_even_by_an_admin(
    app: Flask, session: Session, client: FlaskClient
) -> None:
    admin = MemberFactory(role=Role.admin)
    lead = LeadFactory(owner=admin, email="nina@vandelay.example")
    token = Recipient(lead.workspace_id, lead.id, lead.email, 0, "s1").token(app.secret_key)  # type: ignore[arg-type]
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    row = session.scalars(select(Suppression)).one()
    with pytest.raises(Conflict, match="only a manual"):
        lift(Scope(session, lead.workspace_id), admin, lead, row.id)
    sign_in(client, admin)
    page = client.get(f"/leads/{lead.id}")
    assert "unsubscribed with the unsubscribe link" in page.text
    assert "data-lift" not in page.text
    refused = client.post(
        f"/leads/{lead.id}/suppressions/{row.id}/lift", data={"csrf_token": csrf_token(page.text)}
    )
    assert refused.status_code == 409
    assert session.scalars(select(Suppression)).one().reason is SuppressionReason.unsubscribed


def test_the_lead_page_marks_do_not_email_and_an_admin_lifts_it(
    session: Session, client: FlaskClient
) -> None:
    admin = MemberFactory(role=Role.admin)
    lead = LeadFactory(owner=admin, email="nina@vandelay.example")
    page = sign_in(client, admin).get(f"/leads/{lead.id}")
    assert '<section class="panels">' in page.text
    assert "data-not-suppressed" in page.text
    # Without a CSRF token the form does nothing.
    assert client.post(f"/leads/{lead.id}/suppress").status_code == 400
    done = client.post(f"/leads/{lead.id}/suppress", data={"csrf_token": csrf_token(page.text)})
    assert done.status_code == 302
    page = client.get(f"/leads/{lead.id}")
    assert "marked “Do not email”" in page.text
    assert "data-lift" in page.text
    row = session.scalars(select(Suppression)).one()
    lifted = client.post(f"/leads/{lead.id}/suppressions/{row.id}/lift",
                         data={"csrf_token": csrf_token(page.text)})  # fmt: skip
    assert lifted.status_code == 302
    assert "data-not-suppressed" in client.get(f"/leads/{lead.id}").text


def test_the_api_reads_adds_and_lifts_a_do_not_email(session: Session, client: FlaskClient) -> None:
    admin = MemberFactory(role=Role.admin)
    marketer = MemberFactory(workspace=admin.workspace, role=Role.marketer)
    lead = LeadFactory(owner=admin, email="nina@vandelay.example")
    as_marketer = {"Authorization": f"Bearer {api_token(marketer)}"}
    as_admin = {"Authorization": f"Bearer {api_token(admin)}"}
    url = f"/api/v1/leads/{lead.id}/suppressions"
    assert client.get(url, headers=as_marketer).json == {"suppressed": {}}
    added = client.post(url, json={"address": "@vandelay.example"}, headers=as_marketer)
    assert added.status_code == 201, added.json
    assert added.json["pattern"] == "@vandelay.example"
    assert added.json["liftable"] is True
    shown = client.get(url, headers=as_marketer).json["suppressed"]
    assert shown["nina@vandelay.example"]["reason"] == "manual"
    assert client.post(url, json={"address": 7}, headers=as_admin).status_code == 422
    assert client.delete(f"{url}/{added.json['id']}", headers=as_marketer).status_code == 403
    assert client.delete(f"{url}/{added.json['id']}", headers=as_admin).status_code == 204
    assert client.delete(f"{url}/{added.json['id']}", headers=as_admin).status_code == 404


def test_a_merge_keeps_the_suppression_and_names_the_kept_lead(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    keep = LeadFactory(owner=admin, email="nina@vandelay.example")
    other = LeadFactory(owner=admin, email="nina.berg@gmail.example")
    scope = Scope(session, admin.workspace_id)
    do_not_email(scope, admin, other, None, NOW)
    merge_leads(scope, keep, other, admin, NOW)
    session.commit()
    row = session.scalars(select(Suppression)).one()
    assert (row.pattern, row.lead_id) == ("nina.berg@gmail.example", keep.id)
    assert "nina.berg@gmail.example" in suppressed(
        session, keep.workspace_id, ["nina.berg@gmail.example"]
    )
