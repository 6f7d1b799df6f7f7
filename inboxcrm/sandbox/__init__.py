"""A local Google (OAuth 2.0, Gmail API v1, batch) for tests and the demo.

The real google-api-python-client and google-auth-oauthlib talk to it unchanged;
only the root URLs differ. Start it with :func:`start_sandbox` or ``inboxcrm sandbox``.
"""

from inboxcrm.sandbox.server import RunningSandbox, start_sandbox

__all__ = ["RunningSandbox", "start_sandbox"]
