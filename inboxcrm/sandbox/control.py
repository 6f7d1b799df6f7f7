"""The /_sandbox/ control API for tests and the demo (loopback clients only).

POST /_sandbox/reset            {"seed": "empty"|"demo", "options": {...}}
GET|POST /_sandbox/options      read or change Options (quota, send limit, ...)
GET|POST /_sandbox/clock        {"now": epoch seconds} sets, {"advance": seconds} moves
GET|POST /_sandbox/accounts     list, or add {"email", "name"}
POST /_sandbox/contacts         {"emails": [...]}: external addresses that accept mail
POST /_sandbox/deliver          {"to": email, "raw": base64url or "eml": text, "labelIds"}
POST /_sandbox/reply            {"mailbox", "messageId", "from", "text"}: a lead replies
GET|POST|DELETE /_sandbox/faults  {"kind": "error"|"slow"|"drop", "count", "status", ...}
POST /_sandbox/history/expire   {"mailbox", "before": historyId}
POST /_sandbox/grants/revoke    {"email", "client_id"?}
GET /_sandbox/sent              ?mailbox=: what was sent, with bounces
GET /_sandbox/quota             ?user=: quota units used, refused calls, units available,
                                the most calls answered at once
/_sandbox/recipients, /_sandbox/audience, /_sandbox/run: the outside world (outside_control.py)
"""

from collections.abc import Callable
from typing import Any, Protocol

from werkzeug.wrappers import Request, Response

from inboxcrm.sandbox import delivery, outside_control
from inboxcrm.sandbox.errors import ApiError
from inboxcrm.sandbox.faults import Faults, parse_fault
from inboxcrm.sandbox.mime import decode_b64url
from inboxcrm.sandbox.oauth import revoke_grant
from inboxcrm.sandbox.outside import Outside
from inboxcrm.sandbox.quota import Quota
from inboxcrm.sandbox.state import State
from inboxcrm.sandbox.web import json_response


class Sandbox(Protocol):
    """What the control API works on (the server's Sandbox, which routes to it)."""

    state: State
    quota: Quota
    faults: Faults
    outside: Outside

    def reset(self, seed: str = "empty", options: dict[str, Any] | None = None) -> None: ...


LOOPBACK = {"127.0.0.1", "::1"}


class ControlError(Exception):
    pass


def handle(sandbox: "Sandbox", request: Request) -> Response:
    if request.remote_addr not in LOOPBACK:
        return json_response({"error": "the control API answers loopback clients only"}, 403)
    action = _ACTIONS.get((request.method, request.path.removeprefix("/_sandbox/").strip("/")))
    if action is None:
        return json_response({"error": "unknown control endpoint"}, 404)
    try:
        data = request.get_json(silent=True) if request.method != "GET" else None
        body = data if isinstance(data, dict) else {}
        result = action(sandbox, body, request)
    except (ControlError, KeyError, ValueError, TypeError) as exc:
        return json_response({"error": f"{type(exc).__name__}: {exc}"}, 400)
    except ApiError as exc:  # mail Gmail would refuse, e.g. a MIME bomb
        return json_response({"error": exc.message}, exc.code)
    return json_response(result)


def _reset(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    sb.reset(seed=body.get("seed", "empty"), options=body.get("options"))
    return {"accounts": sorted(sb.state.accounts)}


def _options(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    with sb.state.lock:
        sb.state.options.update(body)
    return vars(sb.state.options)


def _clock(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    if "now" in body:
        sb.state.clock.set(float(body["now"]))
    if "advance" in body:
        sb.state.clock.advance(float(body["advance"]))
    return {"now": sb.state.clock.now()}


def _accounts(sb: "Sandbox", body: dict[str, Any], req: Request) -> Any:
    if req.method == "POST":
        sb.state.add_account(body["email"], body.get("name", body["email"]))
    with sb.state.lock:  # accounts added meanwhile would change the dict under us
        return {
            "accounts": [{"email": a.email, "name": a.name} for a in sb.state.accounts.values()]
        }


def _contacts(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    with sb.state.lock:
        sb.state.contacts.update(e.lower() for e in body["emails"])
        return {"contacts": sorted(sb.state.contacts)}


def _account(sb: "Sandbox", email: str) -> Any:
    account = sb.state.accounts.get(str(email).lower())
    if account is None:
        raise ControlError(f"no sandbox account {email}")
    return account


def _deliver(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    account = _account(sb, body["to"])
    raw = body["eml"].encode() if "eml" in body else decode_b64url(body["raw"])
    labels = set(body["labelIds"]) if "labelIds" in body else None
    with sb.state.lock:
        msg = delivery.receive(account.mailbox, raw, labels)
    return {"id": msg.id, "threadId": msg.thread_id}


def _reply(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    mailbox = _account(sb, body["mailbox"]).mailbox
    original = mailbox.messages.get(body["messageId"])
    if original is None:
        raise ControlError("no such message")
    sender = body.get("from") or (original.parsed.addresses("to") or ["lead@example.com"])[0]
    msg = delivery.reply_from(sb.state, mailbox, original, sender, body.get("text", "Thanks!"))
    return {"id": msg.id, "threadId": msg.thread_id}


def _faults(sb: "Sandbox", body: dict[str, Any], req: Request) -> Any:
    if req.method == "DELETE":
        sb.faults.clear()
    elif req.method == "POST":
        sb.faults.add(parse_fault(body))
    return {"faults": sb.faults.pending()}


def _expire_history(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    mailbox = _account(sb, body["mailbox"]).mailbox
    with sb.state.lock:
        mailbox.history_floor = max(mailbox.history_floor, int(body["before"]))
        return {"expiredBefore": mailbox.expired_before()}


def _revoke(sb: "Sandbox", body: dict[str, Any], _: Request) -> Any:
    email = str(body["email"]).lower()
    with sb.state.lock:
        grants = [
            g
            for g in list(sb.state.grants.values())
            if g.email == email and body.get("client_id") in (None, g.client_id)
        ]
        for grant in grants:
            revoke_grant(sb.state, grant)
    return {"revoked": len(grants)}


def _sent(sb: "Sandbox", _body: dict[str, Any], req: Request) -> Any:
    mailbox = req.args.get("mailbox")
    with sb.state.lock:
        return {
            "sent": [r.resource() for r in sb.state.sent if mailbox in (None, r.mailbox)],
        }


def _options_get(sb: "Sandbox", _body: dict[str, Any], _: Request) -> Any:
    return vars(sb.state.options)


_Action = Callable[["Sandbox", dict[str, Any], Request], Any]


def _quota(sb: "Sandbox", _: dict[str, Any], req: Request) -> Any:
    usage = sb.quota.usage(req.args["user"])
    if usage is None:
        return {"used": 0, "refused": 0, "available": 0.0, "seconds": 0.0, "max_in_flight": 0}
    seconds = usage.last_at - usage.first_at
    return {
        "used": usage.used,
        "refused": usage.refused,
        "available": usage.available,
        "seconds": seconds,
        "max_in_flight": usage.max_in_flight,
    }


_ACTIONS: dict[tuple[str, str], _Action] = {
    ("POST", "reset"): _reset,
    ("GET", "options"): _options_get,
    ("POST", "options"): _options,
    ("GET", "clock"): _clock,
    ("POST", "clock"): _clock,
    ("GET", "accounts"): _accounts,
    ("POST", "accounts"): _accounts,
    ("POST", "contacts"): _contacts,
    ("POST", "deliver"): _deliver,
    ("POST", "reply"): _reply,
    ("GET", "faults"): _faults,
    ("POST", "faults"): _faults,
    ("DELETE", "faults"): _faults,
    ("POST", "history/expire"): _expire_history,
    ("POST", "grants/revoke"): _revoke,
    ("GET", "sent"): _sent,
    ("GET", "quota"): _quota,
}
_ACTIONS.update(outside_control.ACTIONS)
