"""Workspaces, members, sign-in links and API tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from inboxcrm.accounts.models import (
    ApiToken,
    Invite,
    Mailbox,
    MailboxStatus,
    Member,
    Role,
    SyncState,
    Workspace,
)
from inboxcrm.addresses import company_domain, normalize_email
from inboxcrm.config import Settings
from inboxcrm.errors import Conflict, Forbidden, Invalid
from inboxcrm.gmail.signin import GoogleClient
from inboxcrm.stages.service import create_default_stages


def google_client(settings: Settings) -> GoogleClient | None:
    """Our Google OAuth client, or None when none is configured."""
    if not settings.google_client_id:
        return None
    return GoogleClient(
        client_id=settings.google_client_id,
        client_secret=settings.google_client_secret,
        auth_uri=settings.google_auth_uri,
        token_uri=settings.google_token_uri,
        userinfo_uri=settings.google_userinfo_uri,
        revoke_uri=settings.google_revoke_uri,
        api_root=settings.google_api_root,
    )


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


def _signer(secret_key: str, issued_at: dt.datetime | None = None) -> URLSafeTimedSerializer:
    if issued_at is None:
        return URLSafeTimedSerializer(secret_key, salt="inboxcrm.signin")
    stamp = int(issued_at.timestamp())

    class IssuedAt(TimestampSigner):
        def get_timestamp(self) -> int:
            return stamp

    return URLSafeTimedSerializer(secret_key, salt="inboxcrm.signin", signer=IssuedAt)


def signin_token(member: Member, secret_key: str, issued_at: dt.datetime | None = None) -> str:
    """A link token that works once (the member's nonce rotates on use) and for 30 minutes
    from `issued_at` (now, unless told)."""
    if not member.login_nonce:
        member.login_nonce = secrets.token_urlsafe(16)
    return _signer(secret_key, issued_at).dumps({"m": member.id, "n": member.login_nonce})


def member_for_signin(session: Session, token: str, secret_key: str) -> Member | None:
    """The member a sign-in token names, if it is genuine, fresh and unused; no side effects."""
    try:
        data = _signer(secret_key).loads(token, max_age=int(SIGNIN_MAX_AGE.total_seconds()))
    except (SignatureExpired, BadSignature):
        return None
    member = session.get(Member, data.get("m"))
    if member is None or not member.login_nonce or member.login_nonce != data.get("n"):
        return None
    return member if member.active else None


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
        select(ApiToken)
        .where(ApiToken.token_hash == _hash(plain), ApiToken.revoked_at.is_(None))
        .options(joinedload(ApiToken.member))  # one query for both
    ).first()
    if token is None or not token.member.active:
        return None
    # Touch at most once a minute: a busy integration should not write on every call.
    if token.last_used_at is None or now - token.last_used_at > dt.timedelta(minutes=1):
        token.last_used_at = now
    return token.member


def invite(
    session: Session, workspace: Workspace, email: str, role: Role, by: Member | None
) -> Invite:
    """Invite an address; signing in with Google then joins this workspace with this role."""
    address = normalize_email(email)
    existing = find_member(session, address)
    if existing is not None and (existing.active or existing.workspace_id != workspace.id):
        raise Conflict(f"{address} is already a member")
    found = session.scalars(
        select(Invite).where(Invite.workspace_id == workspace.id, Invite.email == address)
    ).first()
    if found is None:
        found = Invite(workspace_id=workspace.id, email=address)
        session.add(found)
    found.role, found.invited_by_id, found.accepted_at = role, by.id if by else None, None
    session.flush()
    return found


def _unique_workspace_name(session: Session, wanted: str) -> str:
    name, n = wanted, 1
    while session.scalar(select(Workspace.id).where(Workspace.name == name)) is not None:
        n += 1
        name = f"{wanted} ({n})"
    return name


def member_for_google(session: Session, email: str, name: str, now: dt.datetime) -> Member:
    """The member a verified Google address signs in as, joining or creating a workspace:
    an invitation wins; else a company domain's workspace (its first person is admin, later
    ones join as reps unless joining is off); free-mail users each get their own."""
    address = normalize_email(email)
    existing = find_member(session, address)
    if existing is not None and existing.active:
        if name and not existing.name:
            existing.name = name
        return existing
    invitation = session.scalars(
        select(Invite)
        .where(Invite.email == address, Invite.accepted_at.is_(None))
        .order_by(Invite.created_at.desc())
    ).first()
    if existing is not None:  # removed: only an invitation back brings them in again
        if invitation is None or invitation.workspace_id != existing.workspace_id:
            raise Forbidden(
                f"You are no longer a member of {existing.workspace.name}: "
                "ask an admin there to invite you again."
            )
        invitation.accepted_at = now
        existing.removed_at, existing.role = None, invitation.role
        return existing
    if invitation is not None:
        invitation.accepted_at = now
        workspace = session.get_one(Workspace, invitation.workspace_id)
        return add_member(session, workspace, address, invitation.role, name)
    domain = company_domain(address)
    if domain is None:
        workspace = create_workspace(session, _unique_workspace_name(session, address))
        return add_member(session, workspace, address, Role.admin, name)
    team = session.scalars(select(Workspace).where(Workspace.domain == domain)).first()
    if team is None:
        workspace = create_workspace(session, _unique_workspace_name(session, domain), domain)
        return add_member(session, workspace, address, Role.admin, name)
    if not team.allow_join:
        raise Forbidden(
            f"The {team.name} workspace takes new people by invitation only: ask an admin."
        )
    return add_member(session, team, address, Role.rep, name)


def connect_mailbox(
    session: Session, member: Member, email: str, sealed_tokens: bytes, scopes: frozenset[str]
) -> Mailbox:
    """Store (or refresh) a member's Gmail connection; syncing picks it up from here."""
    address = normalize_email(email)
    mailbox = session.scalars(
        select(Mailbox).where(Mailbox.workspace_id == member.workspace_id, Mailbox.email == address)
    ).first()
    if mailbox is None:
        mailbox = Mailbox(workspace_id=member.workspace_id, member_id=member.id, email=address)
        session.add(mailbox)
    elif mailbox.member_id != member.id:
        raise Conflict(f"{address} is already connected by another member")
    mailbox.token_ciphertext = sealed_tokens
    mailbox.scopes = " ".join(sorted(scopes))
    mailbox.status = MailboxStatus.connected
    if mailbox.sync_state is SyncState.failed:
        # A failure before reconnecting (the revoked grant, most often) is over: the page
        # shows the mailbox as synced up to its last sync, or waiting for its first.
        mailbox.sync_state = SyncState.idle if mailbox.last_synced_at else SyncState.queued
    mailbox.last_error = None
    session.flush()
    return mailbox


def disconnect_mailbox(mailbox: Mailbox) -> None:
    """Forget the tokens and stop syncing; synced mail stays."""
    mailbox.token_ciphertext = None
    mailbox.status = MailboxStatus.disconnected
    mailbox.next_poll_at = None


def mailboxes_of(session: Session, member: Member) -> list[Mailbox]:
    return list(
        session.scalars(select(Mailbox).where(Mailbox.member_id == member.id).order_by(Mailbox.id))
    )


def zone_names() -> list[str]:
    """The IANA zones a member may choose, as a list to pick from."""
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))


def set_timezone(member: Member, raw: str, now: dt.datetime, from_browser: bool = False) -> bool:
    """The member's own timezone, for every time they are shown. From the browser it is
    taken once, at their first page, and never over one they chose; True if it changed."""
    name = (raw or "").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(
            "Timezone: a place's zone such as Europe/Berlin or America/New_York",
            {"timezone": "choose one from the list"},
        ) from None
    if not name or (from_browser and member.timezone_set_at is not None):
        return False
    changed = member.timezone != name
    member.timezone, member.timezone_set_at = name, now
    return changed
