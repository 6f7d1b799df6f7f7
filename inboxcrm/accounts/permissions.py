"""Permission checks that several services share: one function per rule, so a rule and
its refusal read the same wherever it applies."""

from __future__ import annotations

from inboxcrm.accounts.models import Member, Role
from inboxcrm.errors import Forbidden


def require_admin(member: Member, action: str) -> None:
    """Only admins may do `action`: anyone else gets `Forbidden("only admins can <action>")`."""
    if member.role is not Role.admin:
        raise Forbidden(f"only admins can {action}")
