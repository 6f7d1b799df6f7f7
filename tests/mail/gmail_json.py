"""Moved to tests/support/gmail_json.py, which the tests import. This name stays only for
benchmarks/parse.py, outside the tests, until it imports the new one."""

from tests.support.gmail_json import to_gmail_json as to_gmail_json
