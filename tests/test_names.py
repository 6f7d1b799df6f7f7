"""Named things (stages, segments, templates, campaigns, sequences) share one name rule:
one line of plain text, a length limit, unique in the workspace ignoring case."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from inboxcrm.errors import Conflict, Invalid
from inboxcrm.segments.models import Segment
from inboxcrm.tenancy import Scope, unique_name
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.db


def test_a_name_is_one_trimmed_line_unique_per_workspace_ignoring_case(session: Session) -> None:
    ours, theirs = WorkspaceFactory(), WorkspaceFactory()
    scope = Scope(session, ours.id)
    assert unique_name(scope, Segment, "  Hot \t  leads ", None, "segment", 20) == "Hot leads"
    taken = Segment(workspace_id=ours.id, name="Hot leads", filter={"and": []})
    session.add(taken)
    session.flush()
    with pytest.raises(Conflict, match="already a segment called Hot leads"):
        unique_name(scope, Segment, "HOT LEADS", None, "segment", 20)
    # Renaming a row to its own name is no clash, nor is another workspace's row.
    assert unique_name(scope, Segment, "hot leads", taken, "segment", 20) == "hot leads"
    assert unique_name(Scope(session, theirs.id), Segment, "Hot leads", None, "segment", 20)


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        ("", "cannot be empty"),
        ("   ", "cannot be empty"),
        (None, "cannot be empty"),
        ("x" * 21, "too long"),
        ("Bell\x07", "control characters"),
        ("Zero\u200bwidth", "control"),
    ],
)
def test_a_bad_name_is_refused_saying_why(session: Session, raw: object, problem: str) -> None:
    scope = Scope(session, WorkspaceFactory().id)
    with pytest.raises(Invalid, match=problem):
        unique_name(scope, Segment, raw, None, "segment", 20)
