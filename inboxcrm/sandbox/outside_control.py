"""The control API's part for the outside world (outside.py), merged into control.py's table.

POST /_sandbox/recipients   {"address", "behaviour", "mta"?, "delay"?, "language"?,
                            "away_days"?, "text"?}: one address (it exists from then on);
                            or {"rates": {behaviour: rate}, "seed"?} over outside recipients
GET|DELETE /_sandbox/recipients   read, or forget every behaviour and rate
POST /_sandbox/audience     {"rates": {action: rate}, "delays": {action: seconds},
                            "people": {address: [action, ...]}, "seed"?}
GET /_sandbox/audience      the log of what the outside world did, and what is pending
POST /_sandbox/run          {"advance": seconds}?: move the clock, then do what is due now
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, Protocol

from werkzeug.wrappers import Request

from inboxcrm.sandbox.outside import Outside
from inboxcrm.sandbox.state import State


class Sandbox(Protocol):
    """The part of control.Sandbox these endpoints use."""

    state: State
    outside: Outside


def _recipients(sb: "Sandbox", body: dict[str, Any], req: Request) -> Any:
    recipients = sb.outside.recipients
    with sb.state.lock:
        if req.method == "DELETE":
            sb.outside.recipients = recipients = type(recipients)()
        elif req.method == "POST":
            if "rates" in body:
                recipients.set_rates(dict(body["rates"]), body.get("seed"))
            if "address" in body:
                values = {k: v for k, v in body.items() if k not in ("address", "rates", "seed")}
                values["name"] = values.pop("behaviour")
                recipients.set(str(body["address"]), values)
        return recipients.resource()


def _audience(sb: "Sandbox", body: dict[str, Any], req: Request) -> Any:
    if req.method == "POST":
        with sb.state.lock:
            sb.outside.audience.configure(body)
            return sb.outside.audience.resource()
    return {
        **sb.outside.audience.resource(),
        "log": sb.outside.entries(),
        "pending": sb.outside.pending(),
    }


def _run(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    if "advance" in body:
        sb.state.clock.advance(float(body["advance"]))
    done = sb.outside.run_due()
    return {"now": sb.state.clock.now(), "done": [asdict(e) for e in done]}


ACTIONS: dict[tuple[str, str], Callable[["Sandbox", dict[str, Any], Request], Any]] = {
    ("GET", "recipients"): _recipients,
    ("POST", "recipients"): _recipients,
    ("DELETE", "recipients"): _recipients,
    ("GET", "audience"): _audience,
    ("POST", "audience"): _audience,
    ("POST", "run"): _run,
}
