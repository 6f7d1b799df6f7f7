"""The shared permission checks."""

from __future__ import annotations

import pytest

from inboxcrm.accounts.models import Member, Role
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.errors import Forbidden


def test_only_admins_pass_the_admin_check() -> None:
    require_admin(Member(role=Role.admin), "change the blocklist")
    for role in (Role.rep, Role.marketer):
        with pytest.raises(Forbidden) as refused:
            require_admin(Member(role=role), "change the blocklist")
        assert refused.value.message == "only admins can change the blocklist"
