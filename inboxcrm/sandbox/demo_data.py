"""Placeholder until the demo seed lands."""

from inboxcrm.sandbox.state import State


def populate(state: State) -> None:
    del state
