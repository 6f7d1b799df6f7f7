"""Workspaces, members, sign-in links and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import ApiToken, Member, Role, Workspace
from inboxcrm.errors import Conflict, Invalid
from inboxcrm.leads.addresses import normalize_email
from inboxcrm.pipeline.service import create_default_stages

SIGNIN_MAX_AGE = dt.timedelta(minutes=30)
TOKEN_PREFIX = "icrm_"  # noqa: S105  (a prefix that makes leaked tokens greppable)


def create_workspace(session: Session, name: str, domain: str | None = None) -> Workspace:
    name = name.strip()
    if not name:
        raise Invalid("a workspace needs a name", {"name": "required"})
    if session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
        raise Conflict(f"workspace {name!r} already exists")
    workspace = Workspace(name=name, domain=domain)
    session.add(workspace)
    session.flush()
    create_default_stages(session, workspace.id)
    return workspace


def find_workspace(session: Session, name: str) -> Workspace | None:
    return session.scalars(select(Workspace).where(Workspace.name == name.strip())).first()


def find_member(session: Session, email: str) -> Member | None:
    return session.scalars(select(Member).where(Member.email == normalize_email(email))).first()


def add_member(
    session: Session, workspace: Workspace, email: str, role: Role, name: str = ""
) -> Member:
    address = normalize_email(email)
    if find_member(session, address) is not None:
        raise Conflict(f"{address} is already a member (a person belongs to one workspace)")
    member = Member(workspace_id=workspace.id, email=address, role=role, name=name.strip())
    session.add(member)
    session.flush()
    return member


def _signer(secret_key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret_key, salt="inboxcrm.signin")


def signin_token(member: Member, secret_key: str) -> str:
    """A link token that works once (the member's nonce rotates on use) and for 30 minutes."""
    if not member.login_nonce:
        member.login_nonce = secrets.token_urlsafe(16)
    return _signer(secret_key).dumps({"m": member.id, "n": member.login_nonce})


def member_for_signin(session: Session, token: str, secret_key: str) -> Member | None:
    """The member a sign-in token names, if it is genuine, fresh and unused; no side effects."""
    try:
        data = _signer(secret_key).loads(token, max_age=int(SIGNIN_MAX_AGE.total_seconds()))
    except (SignatureExpired, BadSignature):
        return None
    member = session.get(Member, data.get("m"))
    if member is None or not member.login_nonce or member.login_nonce != data.get("n"):
        return None
    return member


def consume_signin(member: Member) -> None:
    member.login_nonce = secrets.token_urlsafe(16)


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_api_token(session: Session, member: Member, name: str = "") -> tuple[ApiToken, str]:
    """Returns the row and the token itself, which is shown once and never stored."""
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        workspace_id=member.workspace_id, member_id=member.id, name=name, token_hash=_hash(plain)
    )
    session.add(token)
    session.flush()
    return token, plain


def member_for_token(session: Session, plain: str, now: dt.datetime) -> Member | None:
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == _hash(plain), ApiToken.revoked_at.is_(None))
    ).first()
    if token is None:
        return None
    # Touch at most once a minute: a busy integration should not write on every call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token.last_used_at = now
    return token.member
