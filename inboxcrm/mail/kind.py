"""What a message is: a person's mail, bulk, an auto-reply or a bounce. Pure: decided once,
when the message is stored, from the parsed message and the workspace's own list addresses.

The signs overlap, so the order matters:

1. bounce: a delivery status report saying the mail did not reach someone (RFC 3464, and
   the shapes Gmail, Google Workspace, Postfix, Exim, Exchange and qmail send). First,
   because most bounces also say `Auto-Submitted: auto-replied`.
2. any other report (a delay or success notice, an abuse report) is bulk; a read receipt
   (RFC 8098) is an auto-reply.
3. auto_reply: out-of-office and vacation replies and other mail sent on a person's
   behalf: RFC 3834's Auto-Submitted (anything but `no`), `Precedence: auto_reply`,
   X-Autoreply, X-Autorespond, Apple's `X-Apple-Action: vacation`, and Outlook's, which
   carries none of them: its subject ("Automatic reply:" in the user's language), or an
   Outlook rule's loop header on mail with a null return path. `X-Auto-Response-Suppress`
   asks others not to auto-reply to this mail; it says nothing about the mail itself. From
   a daemon or a no-reply address this is machine mail (bulk), and `auto-generated` mail
   with an unsubscribe link or a foreign list's id is a newsletter (bulk).
4. bulk: lists and newsletters (`is_bulk`), daemons and no-reply senders.
5. person: everything else.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable

from inboxcrm.mail.models import MessageKind
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.participants import is_automated_sender

# --- lists and bulk mail ----------------------------------------------------------------

_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})


def list_key(address: str) -> str:
    """The List-Id a group mailing list gives its mail: `sales@acme.com` -> `sales.acme.com`
    (RFC 2919; Google Groups does this)."""
    return address.strip().lower().replace("@", ".", 1)


def _list_id(value: str) -> str:
    # `Sales team <sales.acme.com>` or a bare id
    inner = value.rsplit("<", 1)[-1].split(">", 1)[0]
    return inner.strip().lower()


def is_list_mail(parsed: ParsedMessage, own_lists: Collection[str] = ()) -> bool:
    """Sent through a mailing list or with an unsubscribe link (RFC 2369, RFC 2919), other
    than the team's own groups (`own_lists`: their List-Ids)."""
    ours = parsed.list_id is not None and _list_id(parsed.list_id) in own_lists
    return not ours and bool(parsed.list_unsubscribe or parsed.list_id)


def is_bulk(parsed: ParsedMessage, own_lists: Collection[str] = ()) -> bool:
    """Mailing-list or machine-sent mail (RFC 2369 list headers, Precedence, RFC 3834).

    `own_lists` are List-Ids of the team's own groups (a `sales@` Google Group that is a
    lead inbox): their list headers say how the mail reached us, not what it is."""
    ours = parsed.list_id is not None and _list_id(parsed.list_id) in own_lists
    if not ours:
        if is_list_mail(parsed, own_lists):
            return True
        if parsed.precedence and parsed.precedence.strip().lower() in _BULK_PRECEDENCE:
            return True
    if parsed.auto_submitted:
        return parsed.auto_submitted.split(";", 1)[0].strip().lower() != "no"
    return False


# --- bounces ---------------------------------------------------------------------------

# Plain-text bounces (qmail, old Exim) say it only in words, from the daemon's address.
_DAEMON = re.compile(
    r"^(mailer[-_.]?daemon|post[-_.]?master|mail[-_.]?delivery[-_.]?(subsystem|system)?)$"
)
# What a report says in its first lines: a daemon's when its subject says nothing (Exchange
# 2003 "did not reach", Apache James, Domino, Notes), and a gateway's that signs as someone
# else (Verizon, KDDI, X6), said there as well as in its subject.
_FAILED_OPENING = re.compile(
    r"""did\ not\ reach\ the\ following\ recipient | was\ not\ delivered\ to
      | error\ message\ below | failure\ reasons | could\ not\ be\ delivered
      | permanent\ (fatal\ )?error | undeliverable | failed\ permanently | was\ aborted\ after
      | addresses\ had\ (delivery\ (errors|problems)|permanent\ fatal\ errors)
      | trouble\ delivering\ your\ message
      | error\ has\ occurred\ while\ attempting\ to\ deliver""",
    re.IGNORECASE | re.VERBOSE,
)
_FAILED_SUBJECT = re.compile(
    r"""undeliver(able|ed) | failure\ notice | returned\ mail | returned\ to\ sender
      | (delivery|mail)\ (status\ notification(\ \(failure\)|:\ error)|has\ failed|failed|failure)
      | could\ not\ be\ delivered | non[-\ ]?delivery
      | error\ sending\ your\ (mail|message) | メールエラー | 配信エラー""",
    re.IGNORECASE | re.VERBOSE,
)
# A gateway's own line that no person types (au/KDDI's, signed as the sender's address).
_GATEWAY_OPENING = re.compile(
    r"^\s*could not be delivered to: <[^>\s]+@", re.IGNORECASE | re.MULTILINE
)
_REPLY_PREFIX = re.compile(r"^\s*(re|fwd?|aw|wg|tr|sv|vs|rv|enc|antw)\s*[:\uff1a]", re.IGNORECASE)
# A report that lists no recipient (Google Workspace can send an empty status part) is a
# failure unless its subject says it is a delay or a success notice.
_NOT_FAILED_SUBJECT = re.compile(
    r"\((delay|success)\) | \bdelayed\b | still\ being\ retried | ^\s*(delivered|relayed)\s*:"
    r" | warning:\ could\ not\ send",
    re.IGNORECASE | re.VERBOSE,
)


def _is_delivery_report(parsed: ParsedMessage) -> bool:
    return parsed.report_type == "delivery-status" or bool(parsed.delivery_status)


def is_bounce(parsed: ParsedMessage) -> bool:
    """A report that the mail did not reach someone: a recipient's status failed (not
    `delayed`), X-Failed-Recipients names someone, or a delivery report says no more."""
    if parsed.failed_recipients or any(s.failed for s in parsed.delivery_status):
        return True
    if _is_delivery_report(parsed):
        # Every recipient delayed, delivered or relayed: a notice. None listed: the subject.
        return not parsed.delivery_status and not _NOT_FAILED_SUBJECT.search(parsed.subject)
    daemon = parsed.from_ is not None and bool(_DAEMON.match(parsed.from_.local_part))
    failed_subject = bool(_FAILED_SUBJECT.search(parsed.subject))
    opening = (parsed.text_body or "")[:600]
    # The opening's words are looked for last: most mail is from no daemon and says nothing
    # in its subject, and that search costs more than all the others together.
    if daemon:
        return failed_subject or bool(_FAILED_OPENING.search(opening))
    if _GATEWAY_OPENING.search(opening):
        return True
    # Gateways that sign as someone else (Verizon's `sysadmin@`, KDDI's `no-reply@`) say
    # it in the subject and again in the first lines; a person's "Re:"/"Fwd:" is no report.
    return (
        failed_subject
        and not _REPLY_PREFIX.match(parsed.subject)
        and bool(_FAILED_OPENING.search(opening))
    )


# --- auto-replies ----------------------------------------------------------------------

# Outlook's out-of-office subject prefix in the languages it ships in, and others' plainer
# "Auto reply:". Only at the start: "Re: Automatic reply: ..." is a person answering one.
_AUTO_REPLY_PREFIXES = (
    "automatic reply",  # Outlook, English
    "out of office autoreply",  # Exchange 2003
    "out of (the )?office",  # Exchange and Zimbra rules ("Out of Office: <subject>")
    "auto[- ]?reply",
    "automatische antwort",  # de
    "réponse automatique",  # fr
    "respuesta automática",  # es
    "risposta automatica",  # it
    "resposta automática",  # pt
    "automatisch antwoord",  # nl
    "autosvar",  # sv
    "automatisk svar",  # da, nb
    "automaattinen vastaus",  # fi
    "automatyczna odpowiedź",  # pl
    "automatická odpověď",  # cs
    "automatická odpoveď",  # sk
    "automatikus válasz",  # hu
    "răspuns automat",  # ro
    "otomatik yan\u0131t",  # tr (a dotless i)
    "автоматический ответ",  # ru
    "автоматична відповідь",  # uk
    "αυτόματη απάντηση",  # el
    "自動応答",  # ja
    "自动答复",  # zh-Hans
    "自動回覆",  # zh-Hant
    "자동 회신",  # ko
)
_AUTO_REPLY_SUBJECT = re.compile(
    r"^\s*(" + "|".join(_AUTO_REPLY_PREFIXES) + r")\s*[:\uff1a]", re.IGNORECASE
)
_NOT = frozenset({"no", "false", "0"})


def _auto_submitted(parsed: ParsedMessage) -> str | None:
    """RFC 3834's keyword, lower case (`auto-replied`, `auto-generated` ...); None for none
    or `no`."""
    keyword = (parsed.auto_submitted or "").split(";", 1)[0].strip().lower()
    return keyword if keyword and keyword != "no" else None


def _says_yes(value: str | None) -> bool:
    return value is not None and value.strip().lower() not in _NOT


def _null_return_path(parsed: ParsedMessage) -> bool:
    return (parsed.return_path or "").replace(" ", "") == "<>"


def _auto_reply(parsed: ParsedMessage, own_lists: set[str]) -> bool:
    submitted = _auto_submitted(parsed)
    if submitted == "auto-replied":
        return True
    if submitted is not None:  # auto-generated, auto-notified: unless it is list mail
        return not is_list_mail(parsed, own_lists)
    if (parsed.precedence or "").strip().lower() in ("auto_reply", "auto-reply"):
        return True
    if _says_yes(parsed.x_autoreply) or _says_yes(parsed.x_autorespond):
        return True
    if (parsed.x_apple_action or "").strip().lower() == "vacation":
        return True
    # Outlook's out-of-office says it only in its subject, and by the rule that sent it.
    if _AUTO_REPLY_SUBJECT.match(parsed.subject):
        return True
    return parsed.exchange_rules_loop is not None and _null_return_path(parsed)


# --- all together ----------------------------------------------------------------------


def message_kind(parsed: ParsedMessage, own_lists: Iterable[str] = ()) -> MessageKind:
    """What this message is. `own_lists` are the workspace's own group addresses (lead
    inboxes such as a `sales@` Google Group): their list headers say how the mail reached
    the team, not what it is."""
    lists = {list_key(address) for address in own_lists}
    if is_bounce(parsed):
        return MessageKind.bounce
    machine = parsed.from_ is not None and is_automated_sender(parsed.from_)
    if parsed.content_type == "multipart/report" or _is_delivery_report(parsed):
        if parsed.report_type == "disposition-notification" and not machine:
            return MessageKind.auto_reply  # a read receipt, sent by the reader's mail client
        return MessageKind.bulk
    if not machine and _auto_reply(parsed, lists):
        return MessageKind.auto_reply
    if parsed.send_token and not machine:
        # Sent by the app from a member's Gmail (a campaign, a sequence step): a member
        # writing to a lead, as their own thread; its List-Unsubscribe is our own.
        return MessageKind.person
    if machine or is_bulk(parsed, lists):
        return MessageKind.bulk
    return MessageKind.person
