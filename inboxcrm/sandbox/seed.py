"""Seed data: `empty` (the team's accounts, no mail) and `demo` (a small company's mail)."""

from inboxcrm.sandbox.state import State

TEAM = (
    ("ava.reed@northwind.io", "Ava Reed"),  # rep
    ("ben.okafor@northwind.io", "Ben Okafor"),  # rep
    ("mia.chen@northwind.io", "Mia Chen"),  # marketer
)


def apply(state: State, name: str) -> None:
    if name not in ("empty", "demo"):
        raise ValueError(f"unknown seed {name!r}: use empty or demo")
    for email, full_name in TEAM:
        state.add_account(email, full_name)
    if name == "demo":
        from inboxcrm.sandbox.demo_data import populate

        populate(state)
