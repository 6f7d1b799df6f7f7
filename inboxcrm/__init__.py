"""inboxcrm: a CRM that lives in your team's Gmail."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from inboxcrm.config import Settings, load_settings
from inboxcrm.db import Database, utcnow
from inboxcrm.errors import DomainError

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
csrf = CSRFProtect()


def create_app(config: Settings | None = None) -> Flask:
    """Build the web app; nothing happens at import time."""
    settings = (config or load_settings()).require_secrets()
    app = Flask(__name__, template_folder=str(TEMPLATES))
    for step in (
        configure_settings,
        configure_logging,
        configure_database,
        configure_security,
        configure_google,
        configure_blueprints,
        configure_rate_limits,
        configure_errors,
        configure_templates,
    ):
        step(app, settings)
    return app


def configure_settings(app: Flask, settings: Settings) -> None:
    app.extensions["inboxcrm.settings"] = settings
    app.config.update(
        SECRET_KEY=settings.secret_key,
        TESTING=settings.env == "test",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
        SESSION_COOKIE_NAME="inboxcrm_session",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(days=14),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the signed session
    )


def configure_logging(app: Flask, settings: Settings) -> None:
    from inboxcrm import logs

    logs.configure(settings)  # our level for us, WARNING for libraries, secrets redacted
    app.logger.setLevel(settings.log_level)
    for handler in app.logger.handlers:  # Flask's own, should it have added one
        logs.protect(handler)


def configure_database(app: Flask, settings: Settings) -> None:
    from inboxcrm.web import close_db_session

    app.extensions["inboxcrm.db"] = Database(settings.database_url)
    app.teardown_appcontext(close_db_session)


def configure_security(app: Flask, settings: Settings) -> None:
    from inboxcrm.ratelimits import make_limiter
    from inboxcrm.web import load_member

    if settings.trusted_proxies:
        # The client's address (rate limits, logs) from X-Forwarded-For, as far as we trust it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    make_limiter(app, settings)  # its check runs before CSRF's and the session's
    csrf.init_app(app)
    app.before_request(load_member)  # the server-side session, checked on every request
    https = settings.base_url.startswith("https://")

    @app.after_request
    def security_headers(response: Response) -> Response:
        # Every answer, pages, JSON, redirects and errors alike; a view may set a stricter
        # policy of its own (an email body's CSP, mail/views.py).
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if https:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.endpoint != "static":
            # Pages and JSON hold a member's data: no shared cache keeps them, and the back
            # button after signing out shows no copy.
            response.headers.setdefault("Cache-Control", "private, no-store")
        return response


def configure_rate_limits(app: Flask, settings: Settings) -> None:
    from inboxcrm.ratelimits import apply_limits

    apply_limits(app)  # the limiter itself was made first thing in configure_security


def configure_google(app: Flask, settings: Settings) -> None:
    from inboxcrm.accounts.crypto import TokenBox
    from inboxcrm.gmail.signin import configure_oauthlib

    configure_oauthlib(settings.google_token_uri)
    app.extensions["inboxcrm.tokens"] = TokenBox(settings.token_key)


def configure_blueprints(app: Flask, settings: Settings) -> None:
    from inboxcrm.accounts.views import bp as accounts
    from inboxcrm.api import api_blueprint
    from inboxcrm.campaigns.campaign_views import bp as campaign_pages
    from inboxcrm.campaigns.views import bp as campaigns
    from inboxcrm.exchange.views import bp as exchange
    from inboxcrm.leads.capture_views import bp as capture
    from inboxcrm.leads.company_views import bp as companies
    from inboxcrm.leads.lead_page import PANELS
    from inboxcrm.leads.timeline_views import bp as timeline
    from inboxcrm.leads.views import bp as leads
    from inboxcrm.mail.views import bp as mail
    from inboxcrm.notifications.views import bp as notifications
    from inboxcrm.outbox.public import public as outbox_public
    from inboxcrm.outbox.views import bp as outbox
    from inboxcrm.pipeline.views import bp as pipeline
    from inboxcrm.scoring.actions.views import bp as actions
    from inboxcrm.scoring.settings_views import bp as score_settings
    from inboxcrm.scoring.views import bp as scoring
    from inboxcrm.segments.views import bp as segments
    from inboxcrm.sequences.views import bp as sequences
    from inboxcrm.setup import api_blueprints, lead_panels
    from inboxcrm.team.views import bp as team
    from inboxcrm.web import database
    from inboxcrm.webhooks.views import bp as webhooks

    app.extensions[PANELS] = lead_panels()
    app.register_blueprint(accounts)
    app.register_blueprint(leads)
    app.register_blueprint(capture)
    app.register_blueprint(pipeline)
    app.register_blueprint(timeline)
    app.register_blueprint(companies)
    app.register_blueprint(mail)
    app.register_blueprint(scoring)
    app.register_blueprint(actions)
    app.register_blueprint(notifications)
    app.register_blueprint(score_settings)
    app.register_blueprint(outbox)
    app.register_blueprint(outbox_public)
    # RFC 8058: mail clients POST the unsubscribe without cookies, so without a CSRF token;
    # the signed URL is the authority, and it only ever unsubscribes its own address.
    csrf.exempt(outbox_public)
    app.register_blueprint(segments)
    app.register_blueprint(campaigns)
    app.register_blueprint(team)
    app.register_blueprint(sequences)
    app.register_blueprint(exchange)
    app.register_blueprint(webhooks)
    app.register_blueprint(campaign_pages)
    children = api_blueprints()
    app.register_blueprint(api_blueprint(children))
    for bp in children:  # bearer tokens, no cookies: nothing for a forged form to ride on
        csrf.exempt(bp)

    @app.get("/healthz")
    def healthz() -> tuple[Response, int]:
        from inboxcrm.accounts.progress import poll_lag
        from inboxcrm.runtime import last_runs

        try:
            with database().session() as session:
                runs = last_runs(session)
                every = dt.timedelta(seconds=settings.poll_seconds)
                lag = poll_lag(session, utcnow(), every)
        except Exception as exc:  # any failure means "not healthy", with the reason
            app.logger.warning("health check failed: %s", exc)
            return jsonify(status="error", database="unreachable"), 503
        # The clock is a separate process: report it, but the web answers on its own.
        beat = runs.get("heartbeat")
        clock = {
            "last_tick_at": beat.finished_at.isoformat() if beat and beat.finished_at else None,
            "failing": sorted(job for job, run in runs.items() if run.error),
        }
        # Whether the clocks keep up with the mailboxes: the most overdue poll, in seconds.
        polls = {
            "overdue_s": lag.overdue_s,
            "polled_last_minute": lag.polled_last_interval,
            "connected_mailboxes": lag.connected,
        }
        return jsonify(status="ok", database="ok", clock=clock, polls=polls), 200


def configure_errors(app: Flask, settings: Settings) -> None:
    from inboxcrm.api import error as api_error
    from inboxcrm.web import db_session

    def wants_json() -> bool:
        return request.path.startswith("/api/")

    @app.errorhandler(DomainError)
    def domain_error(exc: DomainError) -> tuple[str, int] | Response:
        db_session().rollback()
        if wants_json():
            return api_error(exc.status, exc.message, exc.fields)
        return render_template("error.html", status=exc.status, message=exc.message), exc.status

    @app.errorhandler(IntegrityError)
    def integrity_error(exc: IntegrityError) -> tuple[str, int] | Response:
        # A race past a service's own uniqueness check: report a conflict, keep nothing.
        db_session().rollback()
        message = "that conflicts with an existing record; reload and try again"
        if wants_json():
            return api_error(409, message)
        return render_template("error.html", status=409, message=message), 409

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        message = "The form expired or came from another site. Go back, reload and try again."
        return render_template("error.html", status=400, message=message), 400

    @app.errorhandler(RateLimitExceeded)
    def too_many_requests(exc: RateLimitExceeded) -> tuple[str, int, dict[str, str]] | Response:
        from inboxcrm.ratelimits import retry_after

        db_session().rollback()
        message = exc.description or "Too many requests; wait a minute and try again."
        wait = {"Retry-After": str(retry_after())}
        if wants_json():
            response = api_error(429, message)
            response.headers.update(wait)
            return response
        return render_template("error.html", status=429, message=message), 429, wait

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[str, int] | Response:
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        message = f"The request is too large: this server takes at most {limit} MB."
        if wants_json():
            return api_error(413, message)
        return render_template("error.html", status=413, message=message), 413

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int] | Response:
        if wants_json():
            return api_error(exc.code or 500, exc.description or exc.name)
        return render_template(
            "error.html", status=exc.code, message=exc.description
        ), exc.code or 500


def configure_templates(app: Flask, settings: Settings) -> None:
    from inboxcrm import formatting
    from inboxcrm.accounts.models import MailboxStatus
    from inboxcrm.accounts.service import mailboxes_of
    from inboxcrm.web import current_member, db_session

    app.add_template_filter(formatting.money)
    app.add_template_filter(formatting.ago)

    @app.template_filter("localtime")
    def localtime(when: dt.datetime | None, timezone: str | None = None) -> str:
        """In the zone named, else the signed-in member's own, else UTC."""
        if not timezone:  # the member only when needed: a page may show hundreds of times
            me = current_member()
            timezone = me.timezone if me else None
        return formatting.localtime(when, timezone)

    app.add_template_filter(formatting.duration)
    app.add_template_filter(formatting.filesize)
    from inboxcrm.outbox import views as outbox

    app.add_template_global(outbox.sending_meter)
    app.add_template_global(outbox.allows_campaigns)

    @app.context_processor
    def inject() -> dict[str, Any]:
        me = current_member()
        # A mailbox whose grant Google refused shows on every page until it is reconnected.
        # Looked up once a request: a page renders its panels' templates too.
        if "reconnect" not in g:
            g.reconnect = [
                m.email
                for m in (mailboxes_of(db_session(), me) if me else [])
                if m.status is MailboxStatus.needs_reconnect
            ]
        return {"me": me, "reconnect": g.reconnect}
