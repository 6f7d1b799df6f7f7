"""Notes are their author's to change or delete, and any admin's; the page says which
were edited, and a bad edit is shown again with what was typed."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.leads.models import Note
from tests.factories import LeadFactory, MemberFactory, NoteFactory, WorkspaceFactory
from tests.support.web import csrf_token, sign_in


def test_the_author_edits_and_deletes_their_note(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    lead = LeadFactory(owner=rep)
    note = NoteFactory(lead=lead, body="Called, no answer")
    sign_in(client, rep)
    page = client.get(f"/leads/{lead.id}").text
    assert "Edit or delete" in page
    token = csrf_token(page)
    answer = client.post(
        f"/leads/{lead.id}/notes/{note.id}", data={"csrf_token": token, "body": "Called, voicemail"}
    )
    assert answer.status_code == 302
    page = client.get(f"/leads/{lead.id}").text
    assert "Called, voicemail" in page
    assert ">edited</span>" in page
    answer = client.post(f"/leads/{lead.id}/notes/{note.id}/delete", data={"csrf_token": token})
    assert answer.status_code == 302
    assert session.scalars(select(Note)).first() is None


def test_a_blank_edit_is_refused_and_shown_again(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    lead = LeadFactory(owner=rep)
    note = NoteFactory(lead=lead, body="Keep me")
    sign_in(client, rep)
    token = csrf_token(client.get(f"/leads/{lead.id}").text)
    answer = client.post(
        f"/leads/{lead.id}/notes/{note.id}", data={"csrf_token": token, "body": "  "}
    )
    assert answer.status_code == 422
    assert "a note needs some text" in answer.text
    session.expire_all()
    assert session.get_one(Note, note.id).body == "Keep me"


def test_only_the_author_or_an_admin_changes_a_note(client: FlaskClient, session: Session) -> None:
    workspace = WorkspaceFactory()
    author = MemberFactory(workspace=workspace)
    colleague = MemberFactory(workspace=workspace, role=Role.marketer)
    admin = MemberFactory(workspace=workspace, role=Role.admin)
    lead = LeadFactory(owner=author)
    note = NoteFactory(lead=lead, body="Mine")

    sign_in(client, colleague)
    page = client.get(f"/leads/{lead.id}").text
    assert "Edit or delete" not in page  # not offered
    token = csrf_token(page)
    answer = client.post(
        f"/leads/{lead.id}/notes/{note.id}", data={"csrf_token": token, "body": "Theirs"}
    )
    assert answer.status_code == 403
    assert "only its author or an admin" in answer.text
    answer = client.post(f"/leads/{lead.id}/notes/{note.id}/delete", data={"csrf_token": token})
    assert answer.status_code == 403

    other_lead = LeadFactory(owner=author)
    admin_client = sign_in(client.application.test_client(), admin)
    token = csrf_token(admin_client.get(f"/leads/{lead.id}").text)
    wrong = admin_client.post(
        f"/leads/{other_lead.id}/notes/{note.id}", data={"csrf_token": token, "body": "x"}
    )
    assert wrong.status_code == 404  # the note is found through its own lead only
    fixed = admin_client.post(
        f"/leads/{lead.id}/notes/{note.id}", data={"csrf_token": token, "body": "Fixed by admin"}
    )
    assert fixed.status_code == 302
    session.expire_all()
    assert session.get_one(Note, note.id).body == "Fixed by admin"
