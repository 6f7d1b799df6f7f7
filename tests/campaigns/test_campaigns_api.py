"""Campaigns under /api/v1: create, preview for a lead, the audience, launch (twice is
once), pause, resume, cancel, a test send and the stats, with the API's errors for bad
input, wrong states and other workspaces' campaigns."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient

from inboxcrm.outbox.settings import save_settings
from tests.factories import MemberFactory, api_token
from tests.support.campaigns import Campaigns

pytestmark = pytest.mark.google


def _auth(c: Campaigns) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(c.admin)}"}


def _create(client: FlaskClient, c: Campaigns, **fields: Any) -> Any:
    body = {"name": "Spring", "template_id": c.template.id, "segment_id": c.segment.id,
            "mailbox_id": c.outbox.mailbox.id, **fields}  # fmt: skip
    return client.post("/api/v1/campaigns", json=body, headers=_auth(c))


def test_the_api_runs_a_campaign_from_draft_to_cancelled(
    client: FlaskClient, campaigns: Campaigns
) -> None:
    c = campaigns
    ann = c.outbox.lead(name="Ann Archer")
    c.outbox.lead(name="Bob Baker")
    auth = _auth(c)
    made = _create(client, c)
    assert made.status_code == 201, made.json
    campaign = made.json
    assert campaign["state"] == "draft"
    assert made.headers["Location"].endswith(f"/api/v1/campaigns/{campaign['id']}")
    path = f"/api/v1/campaigns/{campaign['id']}"
    preview = client.post(f"{path}/preview", json={"lead_id": ann.id}, headers=auth)
    assert preview.status_code == 200
    assert preview.json["subject"] == "Spring offer for Ann"
    audience = client.get(f"{path}/audience", headers=auth).json
    assert audience["included"] == 2
    test = client.post(f"{path}/test", json={"key": "a" * 20}, headers=auth)
    assert test.status_code == 202
    assert test.json["subject"].startswith("[Test] ")
    first = client.post(f"{path}/launch", headers=auth)
    second = client.post(f"{path}/launch", headers=auth)
    assert first.status_code == second.status_code == 200
    assert first.json["planned"] == second.json["planned"] == 2
    assert first.json["version"] == 1
    assert client.patch(path, json={"name": "Renamed"}, headers=auth).status_code == 409
    paused = client.post(f"{path}/pause", headers=auth)
    assert paused.json["state"] == "paused"
    stats = client.get(f"{path}/stats", headers=auth).json
    assert stats["state"] == "paused"
    assert stats["progress"]["held"] == 2
    assert client.post(f"{path}/resume", headers=auth).json["state"] == "sending"
    assert client.post(f"{path}/cancel", headers=auth).json["state"] == "cancelled"
    stats = client.get(f"{path}/stats", headers=auth).json
    assert stats["progress"]["skipped"] == {"cancelled": 2}
    again = client.post(f"{path}/resume", headers=auth)
    assert again.status_code == 409
    assert "cancelled" in again.json["error"]["message"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"schedule": "tomorrow"}, "schedule"),
        ({"schedule": "at"}, "start_at"),
        ({"start_at": "next week"}, "start_at"),
        ({"start_at": "2026-12-01T09:00:00"}, "start_at"),
        ({"template_id": "1"}, "template_id"),
        ({"window": {"days": [9]}}, "window"),
        ({"tracking": "yes"}, "tracking"),
    ],
)
def test_bad_campaign_fields_are_refused_saying_which(
    client: FlaskClient, campaigns: Campaigns, fields: dict[str, Any], field: str
) -> None:
    answer = _create(client, campaigns, **fields)
    assert answer.status_code == 422, answer.json
    assert field in answer.json["error"]["fields"]


def test_other_workspaces_campaigns_and_templates_are_not_found(
    client: FlaskClient, campaigns: Campaigns
) -> None:
    c = campaigns
    made = _create(client, c).json
    stranger = MemberFactory(role=c.admin.role)
    theirs = {"Authorization": f"Bearer {api_token(stranger)}"}
    assert client.get(f"/api/v1/campaigns/{made['id']}", headers=theirs).status_code == 404
    assert client.post(f"/api/v1/campaigns/{made['id']}/launch", headers=theirs).status_code == 404
    mine = _create(client, c, name="Other", template_id=c.template.id + 999)
    assert mine.status_code == 404


def test_a_launch_without_a_postal_address_is_refused(
    client: FlaskClient, campaigns: Campaigns
) -> None:
    c = campaigns
    c.outbox.lead()
    made = _create(client, c).json
    save_settings(c.outbox.session, c.admin, "", True)
    c.outbox.session.commit()
    answer = client.post(f"/api/v1/campaigns/{made['id']}/launch", headers=_auth(c))
    assert answer.status_code == 422
    assert "postal address" in answer.json["error"]["message"]
