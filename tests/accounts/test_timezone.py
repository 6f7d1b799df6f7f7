"""Everyone's own timezone: taken from the browser at the first page, changeable on the
account page, and used for the times a member is shown."""

from __future__ import annotations

import datetime as dt

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from tests.factories import LeadFactory, MemberFactory, NoteFactory
from tests.support.web import csrf_token, sign_in


def browser_sends(client: FlaskClient, zone: str) -> dict[str, object]:
    token = csrf_token(client.get("/leads").text)
    answer = client.post(
        "/account/timezone",
        data={"csrf_token": token, "timezone": zone, "from_browser": "1"},
        headers={"Accept": "application/json"},
    )
    return {"status": answer.status_code, **(answer.json or {})}


def test_the_browser_sets_the_zone_once_and_a_choice_wins(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    sign_in(client, rep)
    assert "data-timezone-unknown" in client.get("/leads").text
    assert browser_sends(client, "America/New_York") == {
        "status": 200,
        "timezone": "America/New_York",
        "changed": True,
    }
    assert "data-timezone-unknown" not in client.get("/leads").text
    assert browser_sends(client, "Asia/Tokyo")["changed"] is False  # once only

    token = csrf_token(client.get("/account").text)
    chosen = client.post(
        "/account/timezone",
        data={"csrf_token": token, "timezone": "Europe/Berlin"},
        follow_redirects=True,
    )
    assert "Times now show in Europe/Berlin." in chosen.text
    session.expire_all()
    assert session.get_one(Member, rep.id).timezone == "Europe/Berlin"


def test_a_zone_that_does_not_exist_is_refused(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    sign_in(client, rep)
    assert browser_sends(client, "Mars/Olympus")["status"] == 422
    token = csrf_token(client.get("/account").text)
    page = client.post(
        "/account/timezone", data={"csrf_token": token, "timezone": "../etc"}, follow_redirects=True
    )
    assert "Timezone: a place&#39;s zone such as Europe/Berlin" in page.text
    session.expire_all()
    assert session.get_one(Member, rep.id).timezone == "UTC"


def test_times_show_in_the_members_zone(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    lead = LeadFactory(owner=rep)
    NoteFactory(lead=lead, body="Hi", at=dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC))
    sign_in(client, rep)
    browser_sends(client, "Asia/Tokyo")
    assert "2026-07-01 21:00 JST" in client.get(f"/leads/{lead.id}").text
