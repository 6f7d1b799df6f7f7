"""`inboxcrm mail classify FILE...`: one JSON line per .eml file, no database."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from inboxcrm.cli import main
from tests.support.signals import (
    calendar_reply,
    gmail_bounce,
    ics_reply,
    message,
    out_of_office,
)

AVA = "ava.reed@northwind.io"
NINA = "nina@vandelay.example"


def test_classify_prints_a_line_per_file_and_goes_on_past_bad_ones(tmp_path: Path) -> None:
    files = {
        "bounce.eml": gmail_bounce(
            AVA,
            NINA,
            "<p@northwind.io>",
            status="5.2.2",
            diagnostic="552 5.2.2 The email account that you tried to reach is over quota.",
        ),
        "away.eml": out_of_office(
            NINA,
            AVA,
            "Automatic reply: Hi",
            "Back on 2027-01-04.",
            **{"Auto-Submitted": "auto-replied"},
        ),
        "meeting.eml": calendar_reply(NINA, AVA, ics_reply(NINA), "Accepted: Demo"),
        "stop.eml": message(
            f"From: {NINA}", f"To: {AVA}", "Subject: Re: Hi", body="Please take me off your list."
        ),
        "news.eml": message(
            "From: News <news@list.example>",
            f"To: {AVA}",
            "Subject: Weekly",
            "List-Unsubscribe: <https://list.example/u>",
            "Precedence: bulk",
            body="This week: unsubscribe at any time.",
        ),
    }
    for name, raw in files.items():
        (tmp_path / name).write_text(raw)
    (tmp_path / "junk.eml").write_bytes(b"\x00\xff\x00 not mail")
    names = [*(str(tmp_path / n) for n in files), str(tmp_path / "missing.eml"), str(tmp_path)]
    names.insert(5, str(tmp_path / "junk.eml"))
    result = CliRunner().invoke(main, ["mail", "classify", *names])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["file"] for line in lines] == names
    bounce, away, meeting, stop, news, junk, missing, folder = lines
    assert bounce["kind"] == "bounce"
    assert bounce["bounce"] == {"type": "soft", "recipients": [NINA], "status": "5.2.2",
                                "reason": "mailboxfull"}  # fmt: skip
    assert (away["kind"], away["auto_reply"], away["bounce"]) == (
        "auto_reply", {"return_date": "2027-01-04"}, None,
    )  # fmt: skip
    assert meeting["meeting"]["status"] == "accepted"
    assert meeting["meeting"]["attendee"] == NINA
    assert (stop["kind"], stop["unsubscribe_request"]) == ("person", True)
    assert (news["kind"], news["unsubscribe_request"], news["bounce"]) == ("bulk", False, None)
    assert junk["kind"] == "person"
    assert junk["bounce"] is None
    assert "error" in missing
    assert "error" in folder
    assert set(bounce) == {"file", "kind", "bounce", "auto_reply", "meeting",
                           "unsubscribe_request"}  # fmt: skip
