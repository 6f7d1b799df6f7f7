"""Who may do what, written once: the table of role x action x whose lead, the checks the
services call, and the README's permission table (a test holds the README to `RULES`).

Reps own their book: they work on their own leads and on unowned ones, take unowned
leads and hand over their own; another rep's lead is that rep's. Admins may do anything.
Marketers read everything and edit a lead's details (tags, title, ...), but change no
owner, stage or deal, and merge or remove no lead.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from inboxcrm.accounts.models import Member, Role
from inboxcrm.errors import Forbidden


class Action(enum.StrEnum):
    edit = "edit"  # name, addresses, company, title, phone, timezone, source, BANT, tags
    edit_deal = "edit_deal"  # deal value, currency, lost reason
    move = "move"  # the stage: the board, bulk, the API
    take = "take"  # make yourself the owner
    hand_over = "hand_over"  # give the lead to someone else, or to no one
    merge = "merge"  # both leads of a merge
    junk = "junk"  # "Not a lead", blocking the lead's addresses or not
    block_domain = "block_domain"  # "Not a lead" blocking the lead's whole domain
    suppress = "suppress"  # "Do not email": no mailbox sends to the address any more
    lift = "lift"  # take back a manual "Do not email" (never an unsubscribe or a bounce)


class Whose(enum.StrEnum):
    """Whose lead it is, seen from the member acting on it."""

    own = "own"
    others = "another's"
    unowned = "unowned"


OWN, OTHERS, UNOWNED = Whose.own, Whose.others, Whose.unowned
EVERY = frozenset(Whose)
NONE: frozenset[Whose] = frozenset()
OWN_OR_UNOWNED = frozenset({OWN, UNOWNED})

# The rules: for each action and role, the leads it is allowed on.
RULES: dict[Action, dict[Role, frozenset[Whose]]] = {
    Action.edit: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: EVERY},
    Action.edit_deal: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: NONE},
    Action.move: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: NONE},
    Action.take: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: NONE},
    Action.hand_over: {Role.admin: EVERY, Role.rep: frozenset({OWN}), Role.marketer: NONE},
    Action.merge: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: NONE},
    Action.junk: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: NONE},
    Action.block_domain: {Role.admin: EVERY, Role.rep: NONE, Role.marketer: NONE},
    Action.suppress: {Role.admin: EVERY, Role.rep: OWN_OR_UNOWNED, Role.marketer: EVERY},
    Action.lift: {Role.admin: EVERY, Role.rep: NONE, Role.marketer: NONE},
}


@dataclass(frozen=True)
class Wording:
    general: str  # "merge leads": what a refusal says a role cannot do at all
    on: str  # "merge {lead}": the same, of one lead
    row: str  # the README table's row


WORDING: dict[Action, Wording] = {
    Action.edit: Wording(
        "edit leads",
        "edit {lead}",
        "edit details: name, addresses, company, title, phone, tags, BANT, next step",
    ),
    Action.edit_deal: Wording(
        "change deal fields",
        "change the deal of {lead}",
        "change deal fields: deal value, currency, lost reason",
    ),
    Action.move: Wording(
        "move leads between stages",
        "move {lead} between stages",
        "move between stages (board, bulk, API)",
    ),
    Action.take: Wording("take leads", "take {lead}", "take: make yourself the owner"),
    Action.hand_over: Wording(
        "hand over leads", "hand over {lead}", "hand over: give to someone else or to no one"
    ),
    Action.merge: Wording("merge leads", "merge {lead}", "merge (both leads)"),
    Action.junk: Wording(
        "remove leads", "remove {lead}", '"Not a lead", blocking its addresses or not'
    ),
    Action.block_domain: Wording(
        "block a whole domain",
        "block the domain of {lead}",
        '"Not a lead" blocking its whole domain',
    ),
    Action.suppress: Wording(
        'mark leads "Do not email"',
        'mark {lead} "Do not email"',
        '"Do not email": no mailbox sends to the address',
    ),
    Action.lift: Wording(
        'lift a "Do not email"',
        'lift the "Do not email" of {lead}',
        'lift a manual "Do not email" (never an unsubscribe)',
    ),
}

_CONDITION = {
    OWN_OR_UNOWNED: "only when the lead is theirs or nobody's",
    frozenset({OWN}): "only when the lead is theirs",
    frozenset({UNOWNED}): "only when the lead is nobody's",
}
_WHOSE_TEXT = {
    OWN: "it is yours",
    OTHERS: "it belongs to another rep",
    UNOWNED: "nobody owns it",
}


def whose(actor: Member, owner_id: int | None) -> Whose:
    if owner_id is None:
        return UNOWNED
    return OWN if owner_id == actor.id else OTHERS


def may(actor: Member, action: Action, owner_id: int | None) -> bool:
    """May `actor` do `action` to a lead owned by `owner_id` (None: unowned)?"""
    return whose(actor, owner_id) in RULES[action][actor.role]


def may_at_all(actor: Member, action: Action) -> bool:
    """May `actor` do `action` to some lead?"""
    return bool(RULES[action][actor.role])


def refusal(actor: Member, action: Action, owner_id: int | None, lead: str) -> str:
    """What a refused `action` says: what is not allowed, and for whom it would be."""
    allowed = RULES[action][actor.role]
    words = WORDING[action]
    if not allowed:
        if all(not RULES[action][role] for role in Role if role is not Role.admin):
            return f"only admins can {words.general}"
        return f"{actor.role.value}s cannot {words.general}"
    condition = _CONDITION.get(allowed, "only on some leads")
    return (
        f"you may not {words.on.format(lead=lead)}: {_WHOSE_TEXT[whose(actor, owner_id)]}, "
        f"and {actor.role.value}s can {words.general} {condition}"
    )


def require(actor: Member, action: Action, owner_id: int | None, lead: str) -> None:
    """Forbidden, saying what is not allowed, unless `actor` may do `action` to the lead
    owned by `owner_id` and named `lead` (its name or address, for the message)."""
    if not may(actor, action, owner_id):
        raise Forbidden(refusal(actor, action, owner_id, lead))


def require_some(actor: Member, action: Action) -> None:
    """Forbidden unless `actor`'s role may do `action` to some lead: a refusal that needs
    no lead ("marketers cannot merge leads"), before any lead is looked at."""
    if not may_at_all(actor, action):
        raise Forbidden(refusal(actor, action, None, "a lead"))


class Managed(enum.StrEnum):
    """What belongs to the workspace rather than to a lead's owner: everyone reads it, the
    roles in `MANAGERS` create, change and delete it."""

    segments = "segments"
    templates = "templates"
    sequences = "sequences"


MANAGERS: dict[Managed, frozenset[Role]] = {
    Managed.segments: frozenset({Role.admin, Role.marketer}),
    Managed.templates: frozenset({Role.admin, Role.marketer}),
    Managed.sequences: frozenset({Role.admin, Role.marketer}),
}


def may_manage(member: Member, what: Managed) -> bool:
    return member.role in MANAGERS[what]


def require_manager(member: Member, what: Managed) -> None:
    """Forbidden ("reps cannot manage segments") unless `member`'s role manages `what`."""
    if not may_manage(member, what):
        raise Forbidden(f"{member.role.value}s cannot manage {what.value}")


def require_admin(member: Member, action: str) -> None:
    """Only admins may do `action`: anyone else gets `Forbidden("only admins can <action>")`."""
    if member.role is not Role.admin:
        raise Forbidden(f"only admins can {action}")


def markdown_table() -> str:
    """The rules as the README shows them: a row per action, a column per role and lead."""
    roles = list(Role)
    head = "| action | " + " | ".join(f"{role.value}: {w.value}" for role in roles for w in Whose)
    lines = [
        head + " |",
        "| --- |" + " :-: |" * (len(roles) * len(Whose)),
    ]
    for action in Action:
        cells = ["✓" if w in RULES[action][role] else "✗" for role in roles for w in Whose]
        lines.append(f"| {WORDING[action].row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
