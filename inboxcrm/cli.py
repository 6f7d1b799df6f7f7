"""The `inboxcrm` command: demo, clock, sync, sandbox, db, member, workspace, api-token, keys,
mail, scores, leads."""

from __future__ import annotations

import datetime as dt
import logging
import sys
from typing import Any

import click
from cryptography.fernet import Fernet

from inboxcrm.accounts.models import Role
from inboxcrm.config import ConfigError, Settings, load_settings
from inboxcrm.db import Database, private_dir, utcnow
from inboxcrm.errors import DomainError
from inboxcrm.sandbox.cli import sandbox


def _settings() -> Settings:
    try:
        return load_settings()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


def _keyed_settings() -> Settings:
    """Settings with the keys the web process uses, so links signed here work there."""
    from inboxcrm.demo import demo_settings

    settings = _settings()
    if settings.env == "demo":
        return demo_settings(settings)
    if not settings.secret_key and not settings.is_production:
        click.echo("warning: no INBOXCRM_SECRET_KEY, so no server can check this link", err=True)
    try:
        return settings.require_secrets()
    except ConfigError as exc:
        raise click.ClickException(f"configuration: {exc}") from None


def _signin_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/signin/{token}"


@click.group()
def main() -> None:
    """inboxcrm: a CRM that lives in your team's Gmail."""


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations (the `release` process)."""
    from inboxcrm.migrate import upgrade

    settings = _settings()
    if settings.database_url.startswith("sqlite:///"):
        private_dir(settings.instance_dir)
    upgrade(settings.database_url)
    click.echo("database is up to date")


@main.group()
def member() -> None:
    """Members of a workspace."""


@member.command("add")
@click.argument("email")
@click.option("--workspace", "workspace_name", required=True, help="Created if it does not exist.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.rep.value)
@click.option("--name", default="", help="Display name.")
def member_add(email: str, workspace_name: str, role: str, name: str) -> None:
    """Add a member and print a one-time sign-in link."""
    from inboxcrm.accounts.service import add_member, create_workspace, find_workspace, signin_token

    settings = _keyed_settings()
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            workspace = find_workspace(session, workspace_name)
            if workspace is None:
                workspace = create_workspace(session, workspace_name)
                click.echo(f"created workspace {workspace.name!r}")
            added = add_member(session, workspace, email, Role(role), name)
            token = signin_token(added, settings.secret_key)
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"added {added.email} as {role} of {workspace_name!r}")
    _print_link(settings, token)


def _print_link(settings: Settings, token: str) -> None:
    click.echo(f"sign-in link (one use, 30 minutes): {_signin_url(settings, token)}")


@member.command("login-link")
@click.argument("email")
def member_login_link(email: str) -> None:
    """Print a fresh one-time sign-in link for a member."""
    from inboxcrm.accounts.service import find_member, signin_token

    settings = _keyed_settings()
    with Database(settings.database_url).session() as session:
        found = find_member(session, email)
        if found is None or not found.active:
            raise click.ClickException(f"no member {email}")
        token = signin_token(found, settings.secret_key)
    _print_link(settings, token)


def _team_member(session: Any, email: str) -> Any:
    """The member an address names, still on the team."""
    from inboxcrm.accounts.service import find_member

    found = find_member(session, email)
    if found is None or not found.active:
        raise click.ClickException(f"no member {email}")
    return found


@member.command("list")
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
def member_list(workspace_name: str) -> None:
    """The team: role, Gmail, last active and leads owned; then open invitations."""
    from inboxcrm.accounts.service import find_workspace
    from inboxcrm.team.roster import open_invites, roster
    from inboxcrm.tenancy import Scope

    with Database(_settings().database_url).session() as session:
        workspace = find_workspace(session, workspace_name)
        if workspace is None:
            raise click.ClickException(f"no workspace {workspace_name!r}")
        scope = Scope(session, workspace.id)
        for row in roster(scope):
            m, seen = row.member, row.last_active_at
            active = seen.strftime("%Y-%m-%d %H:%M UTC") if seen else "never"
            click.echo(
                f"{m.email:<32} {m.role.value:<9} {row.gmail.value:<19} "
                f"last active {active:<20} {row.leads:>6,} leads"
            )
        for invite in open_invites(scope):
            click.echo(f"{invite.email:<32} {invite.role.value:<9} invited")
        joining = "on" if workspace.allow_join else "off"
        click.echo(f"joining by domain ({workspace.domain or 'no domain'}): {joining}")


@member.command("invite")
@click.argument("email")
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.rep.value)
def member_invite(email: str, workspace_name: str, role: str) -> None:
    """Invite an address: signing in with Google as it joins the workspace."""
    from inboxcrm.accounts.service import find_workspace
    from inboxcrm.team.service import invite_member
    from inboxcrm.tenancy import Scope

    try:
        with Database(_settings().database_url).session() as session:
            workspace = find_workspace(session, workspace_name)
            if workspace is None:
                raise click.ClickException(f"no workspace {workspace_name!r}")
            found = invite_member(Scope(session, workspace.id), None, email, Role(role))
            address = found.email
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(
        f"invited {address} as {role} of {workspace_name!r}: they join by signing in with Google"
    )


@member.command("role")
@click.argument("email")
@click.argument("role", type=click.Choice([r.value for r in Role]))
def member_role(email: str, role: str) -> None:
    """Change a member's role (a workspace keeps at least one admin)."""
    from inboxcrm.team.service import change_role
    from inboxcrm.tenancy import Scope

    try:
        with Database(_settings().database_url).session() as session:
            found = _team_member(session, email)
            changed = change_role(Scope(session, found.workspace_id), None, found, Role(role))
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(f"{email} is now {role}" if changed else f"{email} was already {role}")


@member.command("remove")
@click.argument("email")
@click.option("--leads-to", "heir_email", help="Who takes their leads (default: no one).")
def member_remove(email: str, heir_email: str | None) -> None:
    """Remove a member: their leads go to --leads-to, their sign-ins and tokens end, their
    Gmail is disconnected; what it synced stays."""
    from inboxcrm.team.service import remove_member
    from inboxcrm.tenancy import Scope

    try:
        with Database(_settings().database_url).session() as session:
            gone = _team_member(session, email)
            heir = _team_member(session, heir_email) if heir_email else None
            if heir is not None and heir.workspace_id != gone.workspace_id:
                raise click.ClickException(f"{heir_email} is not on {email}'s team")
            done = remove_member(Scope(session, gone.workspace_id), None, gone, heir, utcnow())
            summary = done.summary()
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    click.echo(summary)


@main.group("workspace")
def workspace_group() -> None:
    """Workspaces."""


@workspace_group.command("joining")
@click.argument("workspace_name")
@click.argument("state", type=click.Choice(["on", "off"]))
def workspace_joining(workspace_name: str, state: str) -> None:
    """Whether people signing in with the workspace's domain join as reps (on), or need an
    invitation (off)."""
    from inboxcrm.accounts.service import find_workspace
    from inboxcrm.team.service import set_joining
    from inboxcrm.tenancy import Scope

    with Database(_settings().database_url).session() as session:
        workspace = find_workspace(session, workspace_name)
        if workspace is None:
            raise click.ClickException(f"no workspace {workspace_name!r}")
        set_joining(Scope(session, workspace.id), None, state == "on")
    click.echo(f"joining by domain is {state} for {workspace_name!r}")


@main.group("api-token")
def api_token() -> None:
    """API tokens for /api/v1."""


@api_token.command("create")
@click.argument("email")
@click.option("--name", default="", help="What the token is for.")
def api_token_create(email: str, name: str) -> None:
    """Create a bearer token for a member; it is shown once."""
    from inboxcrm.accounts.service import create_api_token, find_member

    settings = _settings()
    with Database(settings.database_url).session() as session:
        found = find_member(session, email)
        if found is None:
            raise click.ClickException(f"no member {email}")
        _row, plain = create_api_token(session, found, name)
    click.echo(plain)
    click.echo(
        f"use it as: Authorization: Bearer {plain[:9]}…  (shown once; store it now)", err=True
    )


@main.group()
def keys() -> None:
    """Secrets for production."""


@keys.command("generate")
def keys_generate() -> None:
    """Print fresh INBOXCRM_SECRET_KEY and INBOXCRM_TOKEN_KEY lines."""
    import secrets

    click.echo(f"INBOXCRM_SECRET_KEY={secrets.token_urlsafe(48)}")
    click.echo(f"INBOXCRM_TOKEN_KEY={Fernet.generate_key().decode()}")


@main.command()
def clock() -> None:
    """Run the scheduler (the `clock` process): one per deployment is enough, more are safe."""
    from inboxcrm import logs
    from inboxcrm.runtime import Runtime
    from inboxcrm.scheduler import run_clock
    from inboxcrm.setup import jobs

    settings = _keyed_settings()
    logs.configure(settings)
    run_clock(Runtime(Database(settings.database_url), settings), jobs())


class _SyncBar:
    """A progress bar once Gmail has estimated the full sync's size; a count before that."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.shown = 0

    def __call__(self, stored: int, estimate: int | None) -> None:
        if estimate and self.bar is None:
            self.bar = click.progressbar(
                length=estimate, label="Full sync", show_pos=True, show_eta=True
            )
            self.bar.__enter__()
        if self.bar is not None:
            self.bar.update(min(stored, self.bar.length) - self.bar.pos)
        elif stored - self.shown >= 100:
            click.echo(f"{stored:,} messages stored")
            self.shown = stored

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@main.command()
@click.option("--mailbox", "email", required=True, help="The Gmail address to sync.")
def sync(email: str) -> None:
    """Sync one mailbox now, to the end, with a progress bar."""
    from sqlalchemy import func, select

    from inboxcrm import logs
    from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
    from inboxcrm.mail.jobs import claim, sync_claimed
    from inboxcrm.runtime import Runtime
    from inboxcrm.setup import SYNC_STEPS, keyed

    settings = _keyed_settings()
    logs.configure(settings)
    runtime = Runtime(Database(settings.database_url), settings, workers=1)
    with runtime.database.session() as session:
        mailbox = session.scalars(
            select(Mailbox).where(func.lower(Mailbox.email) == email.strip().lower())
        ).first()
    if mailbox is None:
        raise click.ClickException(f"no mailbox {email}: connect it with Sign in with Google")
    if mailbox.status is not MailboxStatus.connected:
        raise click.ClickException(
            f"{mailbox.email} is {mailbox.status.value.replace('_', ' ')}: sign in with Google"
            " again to reconnect it"
        )
    if not claim(runtime.database, mailbox.id, utcnow()):
        raise click.ClickException(f"{mailbox.email} is being synced by the clock right now")
    bar = _SyncBar()
    try:
        state = sync_claimed(
            runtime, mailbox.id, keyed(SYNC_STEPS, runtime), stop=lambda: False, progress=bar
        )
    finally:
        bar.close()
    with runtime.database.session() as session:
        mailbox = session.get_one(Mailbox, mailbox.id)
    if state is SyncState.idle:
        click.echo(f"{mailbox.email}: {mailbox.synced_messages:,} messages, up to date")
        return
    if state is SyncState.throttled and mailbox.throttled_until is not None:
        until = mailbox.throttled_until.strftime("%H:%M:%S UTC")
        if mailbox.throttle_kind == "rate_limited":
            raise click.ClickException(
                f"Gmail asked us to slow down until {until}; run again then (the sync resumes)"
            )
        raise click.ClickException(
            f"Gmail is unavailable ({mailbox.last_error}); run again after {until}"
            " (the sync resumes)"
        )
    raise click.ClickException(f"sync failed: {mailbox.last_error or 'no reason given'}")


@main.group()
def outbox() -> None:
    """Outgoing email."""


@outbox.command("dispatch")
def outbox_dispatch() -> None:
    """Send what is due, as the clock's tick does (each mailbox at its pace), until nothing
    is due. Safe beside the clock and other dispatchers: they share the work."""
    import time

    from inboxcrm import logs
    from inboxcrm.outbox.dispatch import dispatch_due, next_slot
    from inboxcrm.runtime import Runtime
    from inboxcrm.setup import SEND_CHECKS

    settings = _keyed_settings()
    logs.configure(settings)
    runtime = Runtime(Database(settings.database_url), settings, workers=1)
    sent = 0
    while True:
        tally = dispatch_due(runtime, utcnow(), checks=SEND_CHECKS)
        sent += tally.sent
        if not tally.mailboxes:
            now = utcnow()
            with runtime.database.session() as session:
                opens = next_slot(session, now)
            if opens is None or opens > now + dt.timedelta(minutes=2):
                break  # nothing due, or only mailboxes paused or full for longer
            time.sleep(min(max((opens - now).total_seconds(), 0.05), 5.0))
    click.echo(f"{sent} sent")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def demo(host: str, port: int) -> None:
    """Run the demo on SQLite: the app with a seeded team workspace."""
    from apscheduler.schedulers.background import BackgroundScheduler
    from werkzeug.serving import run_simple

    from inboxcrm import create_app, logs
    from inboxcrm.accounts.service import signin_token
    from inboxcrm.demo import demo_settings, live_mail, seed, team, with_sandbox_google
    from inboxcrm.demo_campaigns import seed_campaigns
    from inboxcrm.migrate import upgrade
    from inboxcrm.runtime import Runtime
    from inboxcrm.sandbox import start_sandbox
    from inboxcrm.scheduler import schedule
    from inboxcrm.setup import jobs

    settings = demo_settings(_settings().with_overrides(env="demo"))
    settings = settings.with_overrides(base_url=f"http://{host}:{port}")
    google = None
    if not settings.google_client_id:
        # No Google client configured: the demo brings its own Google, seeded with mail.
        # Its outside world answers the demo's mail: bounces, replies, and an audience that
        # opens, clicks and unsubscribes over loopback (the demo trusts its X-Forwarded-For).
        google = start_sandbox(host="127.0.0.1", port=0, seed="demo", audience=True)
        settings = with_sandbox_google(settings, google)
    private_dir(settings.instance_dir)
    upgrade(settings.database_url)
    app = create_app(settings)
    log_file = private_dir(settings.instance_dir) / "demo.log"
    logs.quiet_console(sys.stdout, log_file)  # the access log and every tick go to the file
    with app.app_context():
        from inboxcrm.web import database

        with database().session() as session:
            workspace = seed(session, utcnow())
            seed_campaigns(session, workspace, team(session, workspace)[0], utcnow())
            session.commit()
            links = [(m, signin_token(m, settings.secret_key)) for m in team(session, workspace)]
    click.echo(f"\ninboxcrm demo running at {settings.base_url}")
    if google is not None:
        click.echo(f'Sandbox Google at {google.url}: "Sign in with Google" as a team member.')
    click.echo("Sign in with one of these one-time links (valid 30 minutes; restart for new ones):")
    for person, token in links:
        click.echo(f"  {person.role.value:<9} {person.name:<12} {_signin_url(settings, token)}")
    click.echo(f"Errors and finished syncs show here; everything else goes to {log_file}.")
    click.echo("Stop with Ctrl+C.\n")
    sys.stdout.flush()
    clock = BackgroundScheduler(timezone=dt.UTC)
    runtime = Runtime(app.extensions["inboxcrm.db"], settings)
    schedule(clock, runtime, jobs())
    if google is not None:
        live_mail(clock, google)
    clock.start()
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        clock.shutdown(wait=False)
        runtime.stop()
        if google is not None:
            google.stop()


@main.group("mail")
def mail_group() -> None:
    """Look at mail files without a database."""


@mail_group.command("classify")
@click.argument("files", nargs=-1, required=True)
def mail_classify(files: tuple[str, ...]) -> None:
    """Print, per .eml file, one JSON line: its kind and its signals (bounce, auto-reply,
    meeting, unsubscribe request). A file that cannot be read gets a line with an error."""
    import json
    from pathlib import Path

    from inboxcrm.signals.classify import classify_raw

    now = utcnow()
    parse_log = logging.getLogger("inboxcrm.mail.parse")
    level = parse_log.level
    parse_log.setLevel(logging.ERROR)  # its notes are for syncs, not for this listing
    try:
        for name in files:
            try:
                raw = Path(name).read_bytes()
            except OSError as exc:
                line: dict[str, Any] = {"file": name, "error": f"{exc.__class__.__name__}: {exc}"}
            else:
                line = {"file": name, **classify_raw(raw, now)}
            click.echo(json.dumps(line, ensure_ascii=False))
    finally:
        parse_log.setLevel(level)  # run in-process (tests, a shell), it leaves logging as it was


@main.group("scores")
def scores_group() -> None:
    """Lead scores."""


@scores_group.command("rescore")
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
def scores_rescore(workspace_name: str) -> None:
    """Rescore every lead of a workspace now, in batches, with a progress bar."""
    from inboxcrm.accounts.service import find_workspace
    from inboxcrm.scoring.jobs import rescore_workspace

    database = Database(_settings().database_url)
    with database.session() as session:
        workspace = find_workspace(session, workspace_name)
        workspace_id = workspace.id if workspace is not None else None
    if workspace_id is None:
        raise click.ClickException(f"no workspace {workspace_name!r}")
    with click.progressbar(length=1, label="leads rescored") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        done = rescore_workspace(database, workspace_id, utcnow(), progress)
    click.echo(f"{done:,} leads rescored")


@main.group("leads")
def leads_group() -> None:
    """Leads in and out."""


@leads_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--workspace", "workspace_name", required=True, help="The workspace's name.")
@click.option("--as", "admin_email", required=True, help="The admin the import is by.")
@click.option("--map", "maps", multiple=True, help="COLUMN=FIELD, to change a guessed field.")
@click.option("--dry-run", is_flag=True, help="Only say what the import would do.")
def leads_import(
    file: str, workspace_name: str, admin_email: str, maps: tuple[str, ...], dry_run: bool
) -> None:
    """Import leads from a CSV file: the mapping guessed (or --map), a dry run, then the
    import in batches with a progress bar. Undo it on its page or through the API."""
    from pathlib import Path

    from inboxcrm.accounts.service import find_member
    from inboxcrm.exchange import imports
    from inboxcrm.exchange.mapping import FIELDS
    from inboxcrm.tenancy import Scope

    database = Database(_settings().database_url)
    try:
        with database.session() as session:
            actor = find_member(session, admin_email)
            if actor is None or actor.workspace.name != workspace_name:
                raise click.ClickException(f"no member {admin_email} in {workspace_name!r}")
            scope = Scope(session, actor.workspace_id)
            imp = imports.upload(scope, actor, Path(file).name, Path(file).read_bytes(), utcnow())
            fields = list(imp.mapping)
            for item in maps:
                column, _, field = item.partition("=")
                if column not in imp.header:
                    raise click.ClickException(f"no column {column!r}; the file has {imp.header}")
                fields[imp.header.index(column)] = field
            imports.set_mapping(imp, actor, fields)
            for column, field in zip(imp.header, imp.mapping, strict=True):
                click.echo(f"  {column} -> {FIELDS[field]}")
            imports.dry_run(scope, imp, actor)
            for refused in imp.refusals[:20]:
                click.echo(f"  row {refused['row']}: {refused['reason']}", err=True)
            click.echo(f"dry run of {imp.rows:,} rows: {imports.summary(imp)}")
            if not dry_run:
                imports.start(imp, actor, utcnow())
                imp.run_at = utcnow() + imports.LEASE  # ours: the clock leaves it alone
            import_id = imp.id
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    if dry_run:
        return
    with click.progressbar(length=1, label="rows imported") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        imports.work(database, import_id, utcnow(), progress=progress)
    with database.session() as session:
        from inboxcrm.exchange.models import LeadImport

        imp = session.get_one(LeadImport, import_id)
        click.echo(f"import {import_id}: {imports.summary(imp)}")


main.add_command(sandbox)
