"""Every test of the sandbox starts from a sandbox with no mail (the fixtures themselves,
and the sandbox's accounts, are shared: tests/conftest.py and tests/support/sandbox.py)."""

from collections.abc import Iterator

import pytest

from tests.support.endpoints import Endpoints
from tests.support.sandbox import Control


@pytest.fixture(autouse=True)
def empty_sandbox(control: Control) -> Control:
    return control


@pytest.fixture
def endpoints() -> Iterator[Endpoints]:
    """A stand-in for the app's tracking and unsubscribe URLs (the app is not under test)."""
    server = Endpoints()
    yield server
    server.stop()
