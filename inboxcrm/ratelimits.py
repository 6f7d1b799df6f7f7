"""Rate limits on the doors people knock on: sign-in and the API.

Flask-Limiter counts in the storage INBOXCRM_RATELIMIT_STORAGE_URI names: `memory://` (the
default) counts per process, right for the demo and the tests; several web processes need
a shared store (redis://...) or each of them grants the whole allowance. Counting is per
client address, which behind a proxy is only right with INBOXCRM_TRUSTED_PROXIES set.
The limits are listed here, once, and applied in `apply_limits`; a limited
request answers 429 with a message and Retry-After (JSON under /api/), see the app's
error handlers.
"""

from __future__ import annotations

import time
from typing import cast

from flask import Blueprint, Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from inboxcrm.config import Settings

# Per address, shared by every sign-in route: a link takes two requests (the page that asks
# and its form), Google two (the start and the callback).
SIGNIN = "30 per minute;300 per hour"
SIGNIN_VIEWS = ("accounts.signin_link", "accounts.google_start", "accounts.google_callback")
SIGNIN_MESSAGE = "Too many sign-in attempts from your network. Wait a minute and try again."
# Per address, every API call; and calls whose bearer token was refused (401) on their own,
# so guessing tokens stops long before a legitimate integration notices any limit.
API = "600 per minute"
API_MESSAGE = "Too many API requests from this address; slow down (see Retry-After)."
API_REFUSED = "20 per minute"
API_REFUSED_MESSAGE = "Too many requests with a missing or invalid API token; wait a minute."


def _refused(response: Response) -> bool:
    return response.status_code == 401


def _not_signin() -> bool:
    return request.endpoint not in SIGNIN_VIEWS


def make_limiter(app: Flask, settings: Settings) -> Limiter:
    """One Limiter per app, its storage with it. Made before CSRF protection is set up, so
    its check runs first: a flood of forms without a token is counted too."""
    limiter = Limiter(
        get_remote_address,
        app=app,
        storage_uri=settings.ratelimit_storage_uri,
        # Exact: never more than the limit in any minute (a fixed window lets twice that
        # through across its edge, a sliding counter only estimates). Memcached lacks it.
        strategy="moving-window",
        key_prefix="inboxcrm",
        headers_enabled=False,  # Retry-After goes on the 429 alone (inboxcrm.__init__)
    )
    app.extensions["inboxcrm.limiter"] = limiter
    if settings.is_production and settings.ratelimit_storage_uri.startswith("memory://"):
        app.logger.warning(
            "rate limits are counted per process (memory://): with several web processes set "
            "INBOXCRM_RATELIMIT_STORAGE_URI to a shared store such as redis://"
        )
    return limiter


def apply_limits(app: Flask) -> None:
    """The limits, on the registered blueprints. Blueprint limits are checked before any
    view or CSRF check runs (route decorators would only count once the view is reached)."""
    limiter = cast(Limiter, app.extensions["inboxcrm.limiter"])
    accounts = cast(Blueprint, app.blueprints["accounts"])
    limiter.shared_limit(
        SIGNIN, scope="signin", error_message=SIGNIN_MESSAGE, exempt_when=_not_signin
    )(accounts)
    api = cast(Blueprint, app.blueprints["api"])  # shared: one count across every API route
    limiter.shared_limit(API, scope="api", error_message=API_MESSAGE)(api)
    limiter.shared_limit(
        API_REFUSED, scope="api-refused", error_message=API_REFUSED_MESSAGE, deduct_when=_refused
    )(api)


def retry_after() -> int:
    """Seconds until the limit this request ran into lets it through again."""
    limiter = cast(Limiter, current_app.extensions["inboxcrm.limiter"])
    hit = limiter.current_limit
    if hit is None:
        return 60
    return max(1, int(hit.reset_at - time.time()))
