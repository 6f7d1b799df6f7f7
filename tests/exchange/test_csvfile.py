"""Files as spreadsheets save them: encodings, delimiters, quoted newlines."""

from __future__ import annotations

import codecs

import pytest

from inboxcrm.errors import Invalid
from inboxcrm.exchange.csvfile import read_table
from inboxcrm.exchange.mapping import guess
from inboxcrm.exchange.rows import Refused, Row, read_row

TEXT = (
    "Name;Email;Company\r\n"
    "José Müller;jose@bücher.example;Bücher GmbH\r\n"
    "Zoë;zoe@x.example;Crème\r\n"
)


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # Excel's "Unicode text" (with its BOM)
        TEXT.encode("utf-16-le"),  # and without one
        TEXT.encode("cp1252"),  # Excel on Windows, "CSV (Comma delimited)"
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-le", "windows-1252"],
)
def test_every_encoding_reads_the_same(data: bytes) -> None:
    table = read_table(data)
    assert table.header == ["Name", "Email", "Company"]
    assert table.delimiter == ";"
    assert [cells for _, cells in table.rows()] == [
        ["José Müller", "jose@bücher.example", "Bücher GmbH"],
        ["Zoë", "zoe@x.example", "Crème"],
    ]


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_found(delimiter: str) -> None:
    text = (
        delimiter.join(["Email", "Name", "Title"])
        + "\n"
        + delimiter.join(["a@b.example", '"Lee, Ann"', "CTO"])
        + "\n"
    )
    table = read_table(text.encode())
    assert table.delimiter == delimiter


def test_a_quoted_newline_stays_in_its_cell_and_rows_keep_their_line_numbers() -> None:
    table = read_table(b'Email,Note\r\na@b.example,"two\r\nlines"\r\n\r\nc@d.example,x\r\n')
    assert list(table.rows()) == [(2, ["a@b.example", "two\r\nlines"]), (5, ["c@d.example", "x"])]


def test_blank_and_repeated_column_names_get_names_of_their_own() -> None:
    assert read_table(b"Email,,Email,Note\r\na@b.example,1,2,3\r\n").header == [
        "Email",
        "Column 2",
        "Email (2)",
        "Note",
    ]


def test_pipedrive_columns_are_guessed() -> None:
    header = [
        "Person - Name",
        "Person - Email - Work",
        "Person - Phone - Work",
        "Organization - Name",
        "Person - Job title",
        "Deal - Title",
        "Deal - Value",
        "Deal - Currency of Value",
        "Deal - Stage",
        "Deal - Owner",
        "Person - Labels",
        "Person - Birthday",
    ]
    assert guess(header) == [
        "name",
        "email",
        "phone",
        "company",
        "title",
        "note",
        "deal_value",
        "currency",
        "stage",
        "owner",
        "tags",
        "note",
    ]


def test_rows_with_bad_cells_are_refused_with_the_reason() -> None:
    header, fields = ["Email", "Name", "Deal value"], ["email", "name", "deal_value"]

    def reason(*cells: str) -> str:
        read = read_row(2, list(cells), header, fields)
        assert isinstance(read, Refused)
        return read.reason

    assert reason("", "Ann", "") == "no email address"
    assert reason("a@b.example", "Ann\x07", "") == "Name holds control characters"
    assert (
        reason("a@b.example", "@SUM(A1:A9)", "")
        == "Name looks like a spreadsheet formula: '@SUM(A1:A9)'"
    )
    assert reason("a@b.example", "-2+3", "") == "Name looks like a spreadsheet formula: '-2+3'"
    assert reason("a@b.example", "Ann", "lots") == "deal value 'lots' is not an amount"
    assert reason("a@b.example", "Ann", "1", "extra") == "the row has 4 cells; the header names 3"
    assert reason("a@b.example", "A" * 201, "") == "Name is longer than 200 characters"


@pytest.mark.parametrize(
    ("raw", "amount"),
    [
        ("$12,500.00", "12500.00"),
        ("1.234,50 €", "1234.50"),
        ("1 234", "1234.00"),
        ("99,5", "99.50"),
        ("0", "0.00"),
    ],
)
def test_deal_values_are_read_as_spreadsheets_write_them(raw: str, amount: str) -> None:
    read = read_row(2, ["a@b.example", raw], ["Email", "Value"], ["email", "deal_value"])
    assert isinstance(read, Row)
    assert str(read.values["deal_value"]) == amount


def test_a_phone_number_is_not_a_formula() -> None:
    read = read_row(2, ["a@b.example", "+44 20 7946 0958"], ["Email", "Phone"], ["email", "phone"])
    assert isinstance(read, Row)
    assert read.values["phone"] == "+44 20 7946 0958"


def test_a_file_whose_first_line_names_no_column_is_refused() -> None:
    with pytest.raises(Invalid, match="no header row"):
        read_table(b",,\r\na@b.example,1,2\r\n")
