"""A segment's leads as CSV, on its page and through the API: only its leads, the leads
export's columns, formulas escaped; a filter that no longer holds is refused, not half
written; another workspace's segment is not found."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.exchange.exports import HEADER
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import create_segment
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.web import sign_in

VIP = {"field": "tag", "op": "has", "value": "vip"}


def _rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")
    reader = csv.DictReader(io.StringIO(text[1:]))
    rows = list(reader)
    assert tuple(reader.fieldnames or ()) == HEADER  # the leads export's columns
    return rows


def _vips(session: Session, admin: Member) -> Segment:
    LeadFactory(owner=admin, email="ann@acme.example", name="=1+2", tags=["vip"])
    LeadFactory(owner=admin, email="bob@acme.example", name="Bob", tags=["vip"])
    LeadFactory(owner=admin, email="cy@acme.example", name="Cy")  # not a VIP
    segment = create_segment(Scope(session, admin.workspace_id), admin, "VIPs", VIP)
    session.commit()
    return segment


def test_the_segment_page_exports_its_leads_with_formulas_escaped(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    segment = _vips(session, admin)
    sign_in(client, admin)
    page = client.get(f"/segments/{segment.id}")
    assert f'href="/segments/{segment.id}/export.csv"' in page.text
    response = client.get(f"/segments/{segment.id}/export.csv")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response.data)
    assert [(r["Email"], r["Name"], r["Tags"]) for r in rows] == [
        ("ann@acme.example", "'=1+2", "vip"),
        ("bob@acme.example", "Bob", "vip"),
    ]


def test_the_api_exports_a_segment_and_refuses_one_whose_filter_no_longer_holds(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    segment = _vips(session, admin)
    token = {"Authorization": f"Bearer {api_token(admin)}"}
    response = client.get(f"/api/v1/segments/{segment.id}/export.csv", headers=token)
    assert response.status_code == 200
    assert [r["Email"] for r in _rows(response.data)] == ["ann@acme.example", "bob@acme.example"]
    segment.filter = {"field": "shoe_size", "op": "is", "value": "44"}  # a field since gone
    session.commit()
    bad = client.get(f"/api/v1/segments/{segment.id}/export.csv", headers=token)
    assert bad.status_code == 422
    assert "filter is not valid" in bad.json["error"]["message"]
    sign_in(client, admin)
    page = client.get(f"/segments/{segment.id}/export.csv", follow_redirects=True)
    assert "Not exported: the filter is not valid" in page.text


def test_another_workspace_s_segment_is_not_found(client: FlaskClient, session: Session) -> None:
    other = _vips(session, MemberFactory(role=Role.admin))
    me = MemberFactory(role=Role.admin)
    sign_in(client, me)
    assert client.get(f"/segments/{other.id}/export.csv").status_code == 404
    token = {"Authorization": f"Bearer {api_token(me)}"}
    assert client.get(f"/api/v1/segments/{other.id}/export.csv", headers=token).status_code == 404
