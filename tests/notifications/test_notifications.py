"""A member's notifications through the pages and the API: the top bar's unread count,
the list newest first with links to the lead, opening one reads it, all read at once;
another member's notifications are nobody else's."""

from __future__ import annotations

import datetime as dt

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.leads.models import Lead
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.web import csrf_token, sign_in

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory(role=Role.rep)


def hot(session: Session, lead: Lead, minute: int) -> None:
    at = T0 + dt.timedelta(minutes=minute)
    notice = Notice(lead.id, NoticeKind.hot, "{lead} turned hot", f"hot:{lead.id}:{minute}")
    notify(session, lead.workspace_id, [notice], at)
    session.commit()


def test_the_same_event_notifies_once(session: Session, rep: Member) -> None:
    lead = LeadFactory(owner=rep, name="Nina Berg")
    notice = Notice(lead.id, NoticeKind.hot, "{lead} turned hot", "hot:1")
    assert notify(session, rep.workspace_id, [notice, notice], T0) == 1
    assert notify(session, rep.workspace_id, [notice], T0 + dt.timedelta(hours=1)) == 0


def test_the_top_bar_counts_unread_and_the_list_opens_the_lead(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    nina = LeadFactory(owner=rep, name="Nina Berg")
    omar = LeadFactory(owner=rep, name="Omar <b>Ali</b>")
    hot(session, nina, 1)
    hot(session, omar, 2)
    hot(session, LeadFactory(owner=MemberFactory(workspace=rep.workspace)), 3)  # not hers
    sign_in(client, rep)
    page = client.get("/leads")
    assert '<span class="count" data-unread>2</span>' in page.text
    listing = client.get("/notifications")
    assert listing.text.index("Omar &lt;b&gt;Ali&lt;/b&gt; turned hot") < listing.text.index(
        "Nina Berg turned hot"
    )  # newest first, and a lead's name is text, not markup
    opened = client.get(listing.text.split('href="/notifications/')[1].split('"')[0].join(
        ["/notifications/", ""]))  # fmt: skip
    assert (opened.status_code, opened.location) == (302, f"/leads/{omar.id}")
    assert '<span class="count" data-unread>1</span>' in client.get("/leads").text
    read = client.post("/notifications/read", data={"csrf_token": csrf_token(listing.text)})
    assert read.status_code == 302
    assert "data-unread" not in client.get("/notifications").text


def test_the_api_lists_and_marks_read_only_the_members_own(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    nina = LeadFactory(owner=rep, name="Nina Berg")
    hot(session, nina, 1)
    hot(session, nina, 2)
    other = MemberFactory(workspace=rep.workspace)
    hot(session, LeadFactory(owner=other), 3)
    auth = {"Authorization": f"Bearer {api_token(rep)}"}
    listed = client.get("/api/v1/notifications", headers=auth).json
    assert listed["unread"] == 2
    assert [n["text"] for n in listed["notifications"]] == ["Nina Berg turned hot"] * 2
    first, second = listed["notifications"]
    assert first["created_at"] > second["created_at"]
    assert (first["lead_id"], first["read_at"]) == (nina.id, None)
    read = client.post(f"/api/v1/notifications/{second['id']}/read", headers=auth)
    assert read.status_code == 200
    assert read.json["read_at"] is not None
    unread = client.get("/api/v1/notifications?unread=1", headers=auth).json
    assert [n["id"] for n in unread["notifications"]] == [first["id"]]
    others = client.get("/api/v1/notifications", headers={
        "Authorization": f"Bearer {api_token(other)}"}).json["notifications"]  # fmt: skip
    assert (
        client.post(f"/api/v1/notifications/{others[0]['id']}/read", headers=auth).status_code
        == 404
    )
    assert client.get("/api/v1/notifications?before=x", headers=auth).status_code == 400
    assert client.post("/api/v1/notifications/read", headers=auth).json == {
        "marked": 1,
        "unread": 0,
    }
    assert client.get("/api/v1/notifications", headers=auth).json["unread"] == 0
