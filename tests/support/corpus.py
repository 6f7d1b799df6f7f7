"""The corpus of real-world mail in `tests/corpus/` and how well the classifier reads it.

`manifest.csv` names each file with what it is: a `bounce` (with the hard/soft type and
the reason sisimai gives it), an `auto_reply`, a `notice` (a delay or success report: no
bounce) or `ordinary` mail (person mail, newsletters, receipts, invitations, list mail,
mail that mentions bounces or absence in passing). `score` runs every file through
`classify_raw`, the code path of `inboxcrm mail classify`, and counts."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inboxcrm.signals.classify import classify_raw

CORPUS = Path(__file__).resolve().parents[1] / "corpus"
NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@dataclass(frozen=True, slots=True)
class Expected:
    file: str  # relative to the corpus folder
    kind: str  # bounce, auto_reply, notice or ordinary
    type: str  # hard or soft for a bounce, else ""
    reason: str  # sisimai's reason for a bounce, else ""


@dataclass(slots=True)
class Figures:
    """Counts per category, and the files that missed, each with what was read."""

    bounces: int = 0
    found: int = 0
    typed: int = 0
    reasons: int = 0
    auto_replies: int = 0
    auto_found: int = 0
    others: int = 0  # ordinary mail and notices
    false: int = 0
    errors: int = 0
    misses: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        def pct(part: int, whole: int) -> float:
            return round(100 * part / whole, 1) if whole else 0.0

        return {
            "corpus_files": self.bounces + self.auto_replies + self.others,
            "bounce_found_pct": pct(self.found, self.bounces),
            "bounce_typed_pct": pct(self.typed, self.bounces),
            "bounce_reason_pct": pct(self.reasons, self.bounces),
            "auto_reply_found_pct": pct(self.auto_found, self.auto_replies),
            "ordinary_false_pct": pct(self.false, self.others),
            "errors": self.errors,
        }


def manifest() -> list[Expected]:
    with (CORPUS / "manifest.csv").open(newline="") as rows:
        return [
            Expected(r["file"], r["kind"], r["type"], r["reason"]) for r in csv.DictReader(rows)
        ]


def score(expected: list[Expected], now: dt.datetime = NOW) -> Figures:
    figures = Figures()
    for e in expected:
        line = classify_raw((CORPUS / e.file).read_bytes(), now)
        kind = line.get("kind")
        bounce = line.get("bounce") or {}
        read = f"{e.file}: read {kind} {bounce.get('type')} {bounce.get('reason')}"
        if "error" in line:
            figures.errors += 1
            figures.misses.append(f"{e.file}: {line['error']}")
            continue
        if e.kind == "bounce":
            figures.bounces += 1
            figures.found += kind == "bounce"
            figures.typed += kind == "bounce" and bounce.get("type") == e.type
            figures.reasons += kind == "bounce" and bounce.get("reason") == e.reason
            if kind != "bounce" or bounce.get("type") != e.type:
                figures.misses.append(f"{read}, expected {e.type} {e.reason}")
        elif e.kind == "auto_reply":
            figures.auto_replies += 1
            figures.auto_found += kind == "auto_reply"
            if kind != "auto_reply":
                figures.misses.append(f"{read}, expected an auto-reply")
        else:
            figures.others += 1
            if kind in ("bounce", "auto_reply"):
                figures.false += 1
                figures.misses.append(f"{read}, expected no bounce and no auto-reply")
    return figures
