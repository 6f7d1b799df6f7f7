"""Every test of the sandbox starts from a sandbox with no mail (the fixtures themselves,
and the sandbox's accounts, are shared: tests/conftest.py and tests/support/sandbox.py)."""

import pytest

from tests.support.sandbox import Control


@pytest.fixture(autouse=True)
def empty_sandbox(control: Control) -> Control:
    return control
