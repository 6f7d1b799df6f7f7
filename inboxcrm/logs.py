"""Logging for every process: our own loggers at INBOXCRM_LOG_LEVEL, everyone else's at
WARNING unless asked for by name, and no secret in any line at any level.

Libraries log secrets at DEBUG (requests_oauthlib prints the whole token response, the
authorization code and the PKCE verifier; urllib3 and werkzeug print URLs), so DEBUG for
us must not mean DEBUG for them: INBOXCRM_DEBUG_LOGGERS names the ones wanted. And the
access log holds sign-in links and OAuth callbacks at INFO, so a redacting filter sits on
every handler records end in (the root's, werkzeug's and gunicorn's when present): it
rewrites the formatted message, exception text included, before any handler writes it.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path
from typing import TextIO

from inboxcrm.config import Settings

REDACTED = "[redacted]"
FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# Loggers whose handlers (if the server made any) get the filter too; gunicorn's do not
# propagate to the root.
SERVER_LOGGERS = ("werkzeug", "gunicorn.error", "gunicorn.access")
# What a person running the app wants to see as it happens (a sync finished), beside
# warnings and errors; the demo's console shows nothing else.
news = logging.getLogger("inboxcrm.news")

_HIDDEN_FIELDS = (
    "access_token|refresh_token|id_token|token|code|code_verifier|verifier|client_secret"
    "|secret|password|assertion|state|sid|csrf_token|session_token|api_token"
)
_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # One-time sign-in links: /signin/<token>, in a path, a URL or a request line.
    (re.compile(r"(/signin/)[^\s?#/\"'<>]+"), rf"\1{REDACTED}"),
    # Authorization, Cookie and Set-Cookie headers, as "Name: value" or in a dict's repr.
    (
        re.compile(
            r"(?i)((?:proxy-)?authorization|(?:set-)?cookie)(['\"]?\s*[:=]\s*)(['\"]?)"
            r"(?:(?:bearer|basic|token|digest)\s+)?[^'\"\r\n]+"
        ),
        rf"\1\2\3{REDACTED}",
    ),
    # A bearer token anywhere else.
    (re.compile(r"(?i)\b(bearer\s+)[\w.~+/=-]+"), rf"\1{REDACTED}"),
    # name=value in query strings and form bodies (code=, code_verifier=, refresh_token=...).
    (re.compile(rf"(?i)\b({_HIDDEN_FIELDS})=[^&\s'\"<>]+"), rf"\1={REDACTED}"),
    # "name": "value" in JSON and 'name': 'value' in Python reprs.
    (
        re.compile(rf"(?i)(['\"](?:{_HIDDEN_FIELDS})['\"]\s*:\s*)(['\"])(?:\\.|(?!\2).)*\2"),
        rf"\1\2{REDACTED}\2",
    ),
    # A field's name, then a long random-looking value: "Generated new state 40Yap...".
    (re.compile(rf"(?i)\b({_HIDDEN_FIELDS})(\s+)[\w.~+/-]{{16,}}=*"), rf"\1\2{REDACTED}"),
    # Token shapes, wherever they stand: JWTs (id tokens), Google's access and refresh
    # tokens, our API tokens, Fernet ciphertexts (sealed grants).
    (re.compile(r"\beyJ[\w-]*\.[\w-]+\.[\w-]*"), REDACTED),
    (re.compile(r"\bya29\.[\w.-]+"), REDACTED),
    (re.compile(r"(?<![\w/])1//[\w.-]+"), REDACTED),
    (re.compile(r"\bicrm_[\w-]+"), REDACTED),
    (re.compile(r"\bgAAAAA[\w-]+=*"), REDACTED),
)


def redact(text: str) -> str:
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (its arguments merged in) and exception text, redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: let logging report it, with nothing of it
            record.msg, record.args = "unformattable log message (redacted)", ()
            return True
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_asked_for: set[str] = set()  # loggers a previous configure() put at DEBUG


def protect(handler: logging.Handler) -> None:
    if not any(isinstance(f, RedactingFilter) for f in handler.filters):
        handler.addFilter(RedactingFilter())


def configure(settings: Settings) -> None:
    """Levels and the redacting filter, for the web process, the clock and the CLI. Safe
    to call again (tests build many apps): the last settings win."""
    root = logging.getLogger()
    if not root.handlers:
        stream = logging.StreamHandler()
        stream.setFormatter(logging.Formatter(FORMAT))
        stream.inboxcrm_console = True  # type: ignore[attr-defined]  # quiet_console's to swap
        root.addHandler(stream)
    for name in _asked_for - set(settings.debug_loggers):
        logging.getLogger(name).setLevel(logging.NOTSET)
    root.setLevel(logging.WARNING)  # every library, unless named below
    level = logging.getLevelName(settings.log_level)
    logging.getLogger("inboxcrm").setLevel(level)
    # Werkzeug's INFO is the dev server's access log: ours to show, redacted.
    logging.getLogger("werkzeug").setLevel(max(level, logging.INFO))
    for name in settings.debug_loggers:
        logging.getLogger(name).setLevel(logging.DEBUG)
    _asked_for.clear()
    _asked_for.update(settings.debug_loggers)
    for handler in root.handlers:
        protect(handler)
    for name in SERVER_LOGGERS:
        for handler in logging.getLogger(name).handlers:
            protect(handler)


class _ForAPerson(logging.Filter):
    """Warnings, errors and news: not the access log, nor every tick's INFO."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or record.name == news.name


class _ConsoleFormat(logging.Formatter):
    """News as it is; a warning or an error says which, and where from."""

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if record.levelno < logging.WARNING:
            return line
        time, _, rest = line.partition(" ")
        return f"{time} {record.levelname} ({record.name}) {rest}"


def quiet_console(stream: TextIO, path: Path) -> list[logging.Handler]:
    """For `inboxcrm demo`: the console (`stream`) gets what a person needs, `path` gets
    every line, access log included, both redacted. Replaces the root's plain console
    handler made by `configure`; returns the handlers added."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "inboxcrm_console", False):
            root.removeHandler(handler)
    console = logging.StreamHandler(stream)
    console.setFormatter(_ConsoleFormat("%(asctime)s %(message)s", "%H:%M:%S"))
    console.addFilter(_ForAPerson())
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))  # private, as the database is
    path.chmod(0o600)
    file = logging.FileHandler(path, encoding="utf-8")
    file.setFormatter(logging.Formatter(FORMAT))
    added: list[logging.Handler] = [console, file]
    for handler in added:
        protect(handler)
        root.addHandler(handler)
    return added
