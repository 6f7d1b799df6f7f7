"""The shared permission checks, and the permission table the README shows."""

from __future__ import annotations

from pathlib import Path

import pytest

from inboxcrm.accounts.models import Member, Role
from inboxcrm.accounts.permissions import (
    RULES,
    WORDING,
    Action,
    Whose,
    markdown_table,
    refusal,
    require,
    require_admin,
)
from inboxcrm.errors import Forbidden


def test_only_admins_pass_the_admin_check() -> None:
    require_admin(Member(role=Role.admin), "change the blocklist")
    for role in (Role.rep, Role.marketer):
        with pytest.raises(Forbidden) as refused:
            require_admin(Member(role=role), "change the blocklist")
        assert refused.value.message == "only admins can change the blocklist"


def test_the_readme_shows_the_permission_table_the_code_uses() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- permissions:start -->\n", 1)[1].split("\n<!-- permissions:end -->")[
        0
    ]
    assert shown == markdown_table()


def test_every_action_has_a_rule_for_every_role_and_words_for_its_refusals() -> None:
    for action in Action:
        assert set(RULES[action]) == set(Role), action
        assert action in WORDING, action
    # Admins may do anything; marketers change no owner, stage or deal, as before.
    assert all(RULES[action][Role.admin] == set(Whose) for action in Action)
    for action in (Action.edit_deal, Action.move, Action.take, Action.hand_over):
        assert not RULES[action][Role.marketer], action


def test_refusals_say_what_is_not_allowed() -> None:
    rep, marketer = Member(id=1, role=Role.rep), Member(id=2, role=Role.marketer)
    assert refusal(rep, Action.hand_over, None, "Ann Lee") == (
        "you may not hand over Ann Lee: nobody owns it, and reps can hand over leads only"
        " when the lead is theirs"
    )
    assert refusal(rep, Action.junk, 7, "Ann Lee") == (
        "you may not remove Ann Lee: it belongs to another rep, and reps can remove leads"
        " only when the lead is theirs or nobody's"
    )
    assert refusal(marketer, Action.merge, 2, "Ann Lee") == "marketers cannot merge leads"
    assert refusal(rep, Action.block_domain, 1, "Ann") == "only admins can block a whole domain"
    with pytest.raises(Forbidden, match="belongs to another rep"):
        require(rep, Action.take, 7, "Ann Lee")
    require(rep, Action.take, None, "Ann Lee")  # an unowned lead: a rep takes it
