"""Admins manage webhooks on the settings page and through the API; others cannot."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.webhooks.jobs import drain
from tests.factories import MemberFactory, api_token
from tests.support.receiver import receiver
from tests.support.web import csrf_token, sign_in


def test_an_admin_adds_an_endpoint_sends_a_test_event_and_reads_the_log(
    client: FlaskClient, session: Session, db: Database, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    sign_in(client, admin)
    with receiver() as hook:
        page = client.get("/settings/webhooks")
        added = client.post(
            "/settings/webhooks",
            data={"csrf_token": csrf_token(page.text), "url": hook.url, "events": ["lead.created"]},
        )
        assert added.status_code == 302
        shown = client.get(added.location).text
        hook.secret = shown.split("data-secret>")[1].split("<")[0]
        assert hook.secret.startswith("whsec_")
        client.post(added.location, data={"csrf_token": csrf_token(shown), "action": "test"})
        drain(db, settings, utcnow(), seconds=None)
        assert [r.body["type"] for r in hook.received] == ["test"]
        assert hook.received[0].signed
        log = client.get(added.location).text
        assert 'data-status="200"' in log
    bad = client.post(
        "/settings/webhooks",
        data={
            "csrf_token": csrf_token(page.text),
            "url": "ftp://x.example/",
            "events": ["lead.created"],
        },
    )
    assert bad.status_code == 422
    assert "must start with" in bad.text


def test_the_api_manages_endpoints_with_the_api_s_errors(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace, role=Role.rep)
    token = {"Authorization": f"Bearer {api_token(admin)}"}
    made = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/x", "events": ["stage.changed"]},
        headers=token,
    )
    assert made.status_code == 201
    assert made.json["secret"].startswith("whsec_")
    url = made.headers["Location"]
    changed = client.patch(
        url, json={"enabled": False, "events": ["lead.created", "reply.received"]}, headers=token
    )
    assert (changed.json["enabled"], changed.json["events"]) == (
        False,
        ["lead.created", "reply.received"],
    )
    assert client.post(f"{url}/test", headers=token).status_code == 202
    assert client.get(f"{url}/deliveries", headers=token).json == {"attempts": []}
    bad = client.post(
        "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/x", "events": []}, headers=token
    )
    assert (bad.status_code, bad.json["error"]["message"]) == (422, "choose at least one event")
    reps = {"Authorization": f"Bearer {api_token(rep)}"}
    refused = client.post(
        "/api/v1/webhooks",
        json={"url": "http://127.0.0.1:9/y", "events": ["lead.created"]},
        headers=reps,
    )
    assert refused.status_code == 403
    assert "secret" not in client.get(url, headers=reps).json
    assert client.delete(url, headers=token).status_code == 204
    assert client.get(url, headers=token).status_code == 404
