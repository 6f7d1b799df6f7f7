"""Reading a CSV file as spreadsheets write it: the encoding (a BOM, UTF-8, UTF-16, or
what charset-normalizer finds, Windows-1252 mostly), the delimiter (comma, semicolon or
tab), quoted newlines; and the limits that keep a bad file from costing the server."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from charset_normalizer import from_bytes

from inboxcrm.errors import Invalid

MAX_BYTES = 64 * 1024 * 1024  # ~500,000 ordinary lead rows; a 2 GB file is refused unread
MAX_COLUMNS = 200
MAX_ROWS = 250_000
MAX_CELL = 10_000  # characters in one cell
DELIMITERS = ",;\t"
SNIFF = 64 * 1024  # characters the delimiter is guessed from

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def decode(data: bytes) -> str:
    """The file's text, or Invalid saying why it is not a CSV we can read."""
    if len(data) > MAX_BYTES:
        raise Invalid(f"the file is {len(data) / 2**20:,.0f} MB; at most {MAX_BYTES // 2**20} MB")
    if not data.strip():
        raise Invalid("the file is empty")
    text = _text(data)
    if "\x00" in text:
        raise Invalid("this is not a CSV file: it holds binary data")
    return text


def _text(data: bytes) -> str:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding)
    head = data[:4096]
    if head.count(b"\x00") * 3 > len(head):  # UTF-16 without a BOM: every other byte zero
        encoding = "utf-16-le" if head[1:2] == b"\x00" else "utf-16-be"
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            raise Invalid("this is not a CSV file: it holds binary data") from None
    if b"\x00" in data:  # no text encoding but UTF-16 and UTF-32 has NUL bytes
        raise Invalid("this is not a CSV file: it holds binary data")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data[: 4 * 1024 * 1024]).best()
    if best is None:
        raise Invalid("this is not a CSV file: its text encoding could not be told")
    try:
        return data.decode(best.encoding)
    except UnicodeDecodeError:  # the sample misled: the common case is Windows-1252
        return data.decode("cp1252", errors="replace")


def delimiter(text: str) -> str:
    """Comma, semicolon or tab: the one the header line and the lines after agree on."""
    sample = text[:SNIFF]
    try:
        return csv.Sniffer().sniff(sample, delimiters=DELIMITERS).delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        counts = {d: first.count(d) for d in DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        return best if counts[best] else ","


@dataclass(frozen=True)
class Table:
    header: list[str]
    delimiter: str
    text: str

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """(row number as a spreadsheet shows it, cells) for every row after the header:
        the number counts lines of the file, so a quoted newline moves the next row down."""
        reader = _reader(self.text, self.delimiter)
        try:
            next(reader)
            count = 0
            line = reader.line_num
            for cells in reader:
                start, line = line + 1, reader.line_num
                if not any(c.strip() for c in cells):
                    continue  # a blank line: no row
                count += 1
                if count > MAX_ROWS:
                    raise Invalid(f"the file has more than {MAX_ROWS:,} rows")
                yield start, cells
        except csv.Error as exc:
            raise Invalid(f"line {reader.line_num} cannot be read as CSV: {exc}") from None


def _reader(text: str, delim: str) -> Any:  # a csv reader: it knows its line number
    return csv.reader(io.StringIO(text, newline=""), delimiter=delim)


def read_table(data: bytes) -> Table:
    """Decode and read the header: Invalid for what is not a CSV of leads."""
    text = decode(data)
    delim = delimiter(text)
    reader = _reader(text, delim)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise Invalid(f"this is not a CSV file: {exc}") from None
    if not header or not any(h.strip() for h in header):
        raise Invalid("the file has no header row: the first line must name the columns")
    if len(header) > MAX_COLUMNS:
        raise Invalid(f"the file has {len(header):,} columns; at most {MAX_COLUMNS}")
    return Table(_names(header), delim, text)


def _names(header: list[str]) -> list[str]:
    """Column names, blanks named by position and repeats numbered: each one its own."""
    names: list[str] = []
    for i, raw in enumerate(header, 1):
        name = " ".join(raw.split())[:100] or f"Column {i}"
        base, n = name, 2
        while name in names:
            name, n = f"{base} ({n})", n + 1
        names.append(name)
    return names
