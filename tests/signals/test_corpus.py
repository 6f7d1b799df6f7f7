"""The classifier on real-world mail: sisimai's sample bounces by MTA, auto-replies in the
languages read, and ordinary mail that only mentions bounces or absence (tests/corpus/,
its README says where each file comes from). The targets are the issue's: at least 95 %
of bounces found and typed hard/soft as sisimai types them, at most 1 % of ordinary mail
called a bounce or an auto-reply."""

from __future__ import annotations

from inboxcrm.signals.classify import classify_raw
from tests.support.corpus import CORPUS, NOW, manifest, score


def test_every_corpus_file_is_in_the_manifest_and_every_entry_exists() -> None:
    listed = {e.file for e in manifest()}
    on_disk = {str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*.eml")}
    assert listed == on_disk
    assert {e.kind for e in manifest()} <= {"bounce", "auto_reply", "notice", "ordinary"}
    assert all(e.type in ("hard", "soft") for e in manifest() if e.kind == "bounce")


def test_the_corpus_is_classified_as_the_reference_parser_does() -> None:
    figures = score(manifest())
    got = figures.as_json()
    misses = "\n".join(figures.misses)
    assert got["errors"] == 0, misses
    assert got["bounce_found_pct"] >= 95, misses
    assert got["bounce_typed_pct"] >= 95, misses
    assert got["auto_reply_found_pct"] >= 95, misses
    assert got["ordinary_false_pct"] <= 1, misses


def test_broken_copies_of_corpus_files_are_classified_without_an_error() -> None:
    # Cut anywhere (a truncated download, a status part without its recipient lines),
    # each file still gets a kind; nothing raises.
    for e in manifest():
        raw = (CORPUS / e.file).read_bytes()
        for cut in (len(raw) // 3, len(raw) // 2, len(raw) - 40):
            line = classify_raw(raw[:cut], NOW)
            assert "error" not in line, (e.file, cut, line)
            assert line["kind"] in ("person", "bulk", "auto_reply", "bounce")
    garbage = classify_raw(b"\x00\xff\x00 not mail\r\n\r\n\x1b", NOW)
    assert "error" not in garbage
