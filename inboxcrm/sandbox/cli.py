"""`inboxcrm sandbox`: serve the local Google until stopped."""

import click

from inboxcrm.sandbox.server import serve


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--seed", default="demo", show_default=True,
              type=click.Choice(["demo", "empty"]))  # fmt: skip
@click.option("--quota-units-per-minute", default=15000, show_default=True, type=int,
              help="Per-user Gmail quota units a minute; 0 turns quota off.")  # fmt: skip
@click.option("--daily-send-limit", default=2000, show_default=True, type=int)
@click.option("--token-lifetime", default=3600, show_default=True, type=int,
              help="Access token lifetime in seconds.")  # fmt: skip
@click.option("--audience", is_flag=True,
              help="Outside recipients bounce, reply, open, click at demo rates.")  # fmt: skip
def sandbox(
    host: str,
    port: int,
    seed: str,
    quota_units_per_minute: int,
    daily_send_limit: int,
    token_lifetime: int,
    audience: bool,
) -> None:
    """Run the sandbox Google (OAuth 2.0 + Gmail API) on HOST:PORT."""
    serve(
        host,
        port,
        seed,
        audience=audience,
        quota_units_per_minute=quota_units_per_minute,
        daily_send_limit=daily_send_limit,
        token_lifetime=token_lifetime,
    )
