"""Why a message bounced, and whether that is for good: pure, from a delivery report's facts.

A bounce is typed the way sisimai types it, so numbers stay comparable with the tools
deliverability people use: a reason (`userunknown`, `mailboxfull`, `blocked` ...), then
hard for the reasons that say the address will never work (the mailbox or the domain does
not exist, the mailbox has moved, the host accepts no mail at all with a 5xx) and soft for
every other one (full, too large, deferred, rate limited, blocked by policy or reputation:
the same address may take the next message).

The facts read, per failed recipient: the RFC 3464 `Status` (an RFC 3463 X.Y.Z code), the
`Diagnostic-Code` (the remote server's SMTP reply, as Postfix, Exim, Sendmail, Exchange
and Gmail write it), the `Action`; and for a report with no status part (qmail, older
Exim, some gateways) the human-readable text above the returned message. The reason is
decided in this order:

1. phrases a particular system uses that name the reason outright (Gmail's "The email
   account that you tried to reach does not exist", Exchange's `RecipientNotFound` ...);
2. the reasons that can be told from the code alone, checked against the text for the
   phrases that contradict it (a 5.1.1 "blocked by policy" is no unknown user);
3. the text against each reason's phrases, most specific first;
4. what the code's class says (x.6: content, x.7: security), an `expired` for a report
   that gave up retrying, else `onhold` (there was text, nothing matched) or `undefined`.

`Action: delayed` is no bounce: the mail is still being retried.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inboxcrm.mail.parse import ParsedMessage, RecipientStatus
from inboxcrm.mail.participants import parse_addresses

HARD_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved"})


@dataclass(frozen=True, slots=True)
class RecipientBounce:
    """One address the mail did not reach, and why."""

    recipient: str  # normalized; "" when the report names nobody readable
    type: str  # "hard" or "soft"
    reason: str  # sisimai's name for it
    status: str  # the X.Y.Z code, from the report or found in its text; "" if none
    diagnostic: str  # the server's words, one line, clipped


@dataclass(frozen=True, slots=True)
class Bounce:
    """A bounce report: every failed recipient; the first one speaks for the report."""

    recipients: tuple[RecipientBounce, ...]

    @property
    def first(self) -> RecipientBounce:
        return self.recipients[0]

    @property
    def type(self) -> str:
        return self.first.type

    @property
    def reason(self) -> str:
        return self.first.reason

    @property
    def status(self) -> str:
        return self.first.status

    @property
    def addresses(self) -> list[str]:
        return [r.recipient for r in self.recipients if r.recipient]


# --- the pieces of a diagnostic ---------------------------------------------------------

_STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)")
_REPLY = re.compile(r"(?<![\d.])([245]\d\d)(?:[ -]|$)(?!\d)")
_DIAG_TYPE = re.compile(r"^\s*(smtp|x-[\w-]+|x400|x\.400)\s*;\s*", re.IGNORECASE)
_COMMAND = (
    (re.compile(r"rcpt to|recipient|after rcpt|\brcpt\b", re.I), "RCPT"),
    (re.compile(r"mail from|after mail\b|\bmail\b command", re.I), "MAIL"),
    (
        re.compile(r"end of data|\bdata\b command|after data|after end of data|>>> data", re.I),
        "DATA",
    ),
    (re.compile(r"\b(helo|ehlo)\b", re.I), "EHLO"),
    (re.compile(r"initial connection|connect(ion)? (to|refused)|greeting", re.I), "CONN"),
)
_IN_REPLY_TO = re.compile(
    r"in reply to (rcpt to|mail from|end of data|data|helo|ehlo)|"
    r"after (rcpt to|mail from|end of data|data|initial connection|helo|ehlo)|"
    r"(rcpt|mail|data|helo|ehlo) command|"
    r">>> ?(rcpt to|mail from|data|helo|ehlo)\b",  # a Sendmail or Courier transcript
    re.I,
)


def find_status(text: str) -> str:
    """The first RFC 3463 code in a text (`550 5.1.1 <x>: ...` -> `5.1.1`)."""
    for match in _STATUS.finditer(text):
        subject, detail = int(match.group(2)), int(match.group(3))
        if subject <= 7 and detail < 1000:
            return f"{match.group(1)}.{subject}.{detail}"
    return ""


def find_reply(text: str) -> str:
    """The SMTP reply code of a diagnostic (`smtp; 550 5.1.1 ...` -> `550`)."""
    match = _REPLY.search(text)
    return match.group(1) if match and match.group(1)[0] in "45" else ""


def find_command(text: str) -> str:
    """The SMTP command the server answered, when the report says (RCPT, MAIL, DATA ...)."""
    match = _IN_REPLY_TO.search(text)
    if match is None:
        return ""
    said = match.group(0)
    for pattern, command in _COMMAND:
        if pattern.search(said):
            return command
    return ""


# --- each reason's words ----------------------------------------------------------------


def _words(*phrases: str) -> re.Pattern[str]:
    """Phrases (lower case; `.*` within one allowed) as one case-insensitive pattern."""
    return re.compile("|".join(f"(?:{p})" for p in phrases))


# What particular systems say, naming the reason outright.
_EXPLICIT: tuple[tuple[str, re.Pattern[str]], ...] = (
    # au (KDDI, ezweb.ne.jp) answers a recipient's own filter with this bare line.
    ("filtered", _words(r"^550 : user unknown$")),
    (
        "suspend",
        _words(
            r"email account that you tried to reach is (disabled|inactive)",  # gmail
            r"account that you tried to reach is (disabled|suspended)",
        ),
    ),
    (
        "mailboxfull",
        _words(
            r"email account that you tried to reach is over quota",  # gmail
            r"inbox is out of storage space",
            r"recipient's mailbox is full",
            r"mailbox full",
            r"mailbox is full",
            r"quota exceeded",
            r"over quota",
            r"insufficient (system )?storage",
            r"exceeded (its|their|the) (storage|quota)",
            r"mailbox has exceeded",
            r"quotaexceeded",
            r"mailboxfull",
        ),
    ),
    (
        "userunknown",
        _words(
            r"email account that you tried to reach does not exist",  # gmail
            r"resolver\.adr\.recip(ient)?notfound",  # exchange, microsoft 365
            r"recipient not found by smtp address lookup",
            r"resolver\.adr\.exrecipnotfound",
            r"resolver\.adr\.recipientnotfound",
            r"address couldn't be found, or is unable to receive mail",  # gmail, text
            r"the email address you entered couldn't be found",  # microsoft 365, text
            r"sorry, no mailbox here by that name",  # qmail
            r"user unknown in (local|virtual|relay) (recipient|mailbox|alias) table",  # postfix
            r"this user doesn't have a .* account",  # yahoo
            r"not listed in (the )?(domino directory|public name & address book)",  # domino
            r"the recipient name is not recognized",  # exchange 2003
            r"unknown user: \S+@",  # imail
            r"ディレクトリのリストにありません",  # lotus notes, ja: not in the directory
            r"domino ディレクトリ\s*には見つかりません",  # domino, ja: not in the directory
            r"invalid final delivery userid",  # imail
        ),
    ),
    (
        "hostunknown",
        _words(
            r"dns (error|type '?mx'?).*(nxdomain|domain name not found|does not exist)",  # gmail
            r"host or domain name not found",
            r"all relevant mx records point to non-existent",
            r"unrouteable address",
            r"unroutable address",
            r"couldn't find any host named",
            r"no such domain",
        ),
    ),
    (
        "notaccept",
        _words(
            r"returned null mx",  # gmail: the domain publishes a null MX (RFC 7505)
            r"doesn't receive email according to the administrator",
            r"malformed or unexpected name server reply",  # postfix: a broken MX lookup
        ),
    ),
    (
        "networkerror",
        _words(r"wasn't able to establish an smtp connection"),  # qmail, whatever follows
    ),
    (
        "failedstarttls",
        _words(r"does not support tls", r"tls (negotiation|handshake) failed"),
    ),
    (
        "expired",
        _words(
            r"retry timeout exceeded",
            r"retry time not reached for any host after a long",
            r"message (has been|was) in the queue too long",
            r"delivery time expired",
            r"message expired",
            r"giving up on message",
            r"maximum time in queue",
            r"could not be delivered for \d+ (day|hour)",
            r"message timed out",
            r"recipient server did not accept our requests to connect",  # gmail, still retried
        ),
    ),
)

_REASONS: dict[str, re.Pattern[str]] = {
    "mailboxfull": _words(
        r"mailbox (is |was )?full",
        r"full mailbox",
        r"mailbox quota",
        r"quota (exceeded|violation)",
        r"over (the )?(allowed )?quota",
        r"over (disk|storage) quota",
        r"exceeded storage",
        r"disk quota",
        r"diskspace quota",
        r"not enough (disk |storage )?space",
        r"insufficient disk space",
        r"no space left",
        r"mailbox size limit exceeded",
        r"mail(box|folder) .*(is|was) full",
        r"user has too many messages",
        r"exceeding (its|their) mailbox quota",
        r"mailbox (would )?exceeds? .*(storage|limit)",
        r"storage (limit|allocation) exceeded",
        r"boite du destinataire pleine",
        r"casilla (de correo )?llena",
        r"postfach (ist )?voll",
        r"caixa (postal )?cheia",
        r"out of storage space",
    ),
    "mesgtoobig": _words(
        r"message (is )?too (large|big)",
        r"message size exceeds",
        r"size (of the )?message exceeds",
        r"exceeds? (the )?(maximum )?(message )?size limit",
        r"message (length|size) exceeds",
        r"message exceeds (the )?(maximum|fixed)",
        r"mail size limit",
        r"email is too large",
        r"message too long",
        r"size limit exceeded",
        r"exceeded the maximum (message )?size",
        r"too big for (the )?system",
        r"maximum message size",
    ),
    "exceedlimit": _words(
        r"message header size exceeds",
        r"exceeded (the )?message (header )?limit",
        r"header too (large|long)",
        r"too many recipients",
    ),
    "suspend": _words(
        r"(is |been |currently |temporarily )suspended",
        r"account (is )?(disabled|deactivated|inactive|locked|frozen)",
        r"mailbox (is )?(disabled|deactivated|inactive|frozen|suspended)",
        r"inactive (account|user|mailbox)",
        r"user suspended",
        r"recipient suspend",
        r"deactivated mailbox",
        r"user is terminated",
        r"account has been disabled",
        r"this mailbox is disabled",
        r"disabled recipient",
        r"archived recipient",
        r"temporarily inactive",
        r"user or domain is disabled",
        r"account expired",
        r"mailbox unavailable or access denied",
        r"no longer accepts mail",
    ),
    "hasmoved": _words(r" has been replaced by ", r"mailbox has moved", r"address has moved"),
    "norelaying": _words(
        r"relay(ing)? (access )?(denied|not permitted|prohibited)",
        r"no relaying",
        r"not (permitted|allowed) to relay",
        r"unable to relay",
        r"as a relay",
        r"we don't handle mail for",
        r"not an open relay",
        r"insecure mail relay",
        r"relaying mail to .* is not allowed",
        r"not configured to relay",
        r"that domain isn't in my list of allowed rcpthost",
        r"relay not permitted",
        r"specified domain is not allowed",
    ),
    "authfailure": _words(
        r"\b(spf|dkim|dmarc)\b.*(fail|reject|policy|not pass|invalid|check)",
        r"(fail|did not pass|not pass|unauthenticated).*\b(spf|dkim|dmarc)\b",
        r"does not have authentication information",
        r"fails to pass authentication checks",
        r"unauthenticated email",
        r"sender authentication failed",
        r"authentication checks failed",
    ),
    "userunknown": _words(
        r"user unknown",
        r"unknown user",
        r"unknown (recipient|mailbox|local[- ]?part|e-?mail address|address)",
        r"user (not found|not known|does not exist|doesn't exist|not exist|not active|missing)",
        r"user .* (was not found|does not exist)",
        r"no such (user|recipient|mailbox|person|address)",
        r"recipient (unknown|not found|does not exist|doesn't exist|not exist)",
        r"recipient (is not local|not ok|invalid)",
        r"recipient .* (was not found|does not exist)",
        r"recipient address rejected: (user unknown|unknown user|invalid user|access denied)",
        r"recipient address rejected: (userunknown|user .* does not exist|invalid-recipient)",
        r"address (does not exist|doesn't exist|unknown|not present|invalid|not found)",
        r"invalid (recipient|mailbox|address|user)",
        r"(mailbox|account) (does not exist|doesn't exist|not found|not present|invalid)",
        r"(mailbox|account) (unavailable|is unavailable|is not available)",
        r"mailbox .* (does not exist|unavailable)",
        r"not a valid (mailbox|user|recipient)",
        r"is not a (known|valid) user",
        r"no mailbox (here|by that name|found)",
        r"no account by that name",
        r"requested action not taken: mailbox unavailable",
        r"bad (destination|recipient|address)",
        r"(sorry, )?badrcptto",
        r"not (a local|our) (address|customer)",
        r"non[- ]?existent (user|address|recipient|mailbox)",
        r"there is no one at this address",
        r"this address no longer exists",
        r"email address (is wrong|could not be found|is no longer valid|not found)",
        r"no valid recipients",
        r"destination addresses were unknown",
        r"<.*> not found",
        r"utilisateur inconnu",
        r"destinataire inconnu",
        r"adresse (email )?(inconnue|invalide|inexistante)",
        r"usuario (desconocido|no existe|inexistente)",
        r"no existe (dicha persona|ese usuario)",
        r"unbekannte?r? (empf[aä]nger|benutzer)",
        r"(empf[aä]nger|benutzer|adresse) (ist )?unbekannt",
        r"existiert nicht",
        r"utente (sconosciuto|inesistente)",
        r"nessun utente",
        r"destinatario (sconosciuto|inesistente)",
        r"usu[aá]rio (desconhecido|inexistente)",
        r"onbekende (gebruiker|ontvanger)",
        r"bestaat niet",
        r"vdeliver: invalid or unknown virtual user",
        r"rcpt .* does not exist",
        r"can't accept user",
        r"not a known user",
        r"does not like recipient",
        r"5\.1\.0 address rejected",
    ),
    "filtered": _words(
        r"message filtered",
        r"message rejected due to user rules",
        r"refused due to recipient preferences",
        r"resolver\.rst\.notauthorized",
        r"user refuses to receive",
        r"user reject",
        r"is only accepting mail from specific",
        r"you have been blocked by the recipient",
        r"is not accepting any mail",
        r"due to extended inactivity new mail is not currently being accepted",
        r"this account is protected by",
    ),
    "requireptr": _words(
        r"\bptr\b",
        r"reverse (dns|lookup|hostname|address)",
        r"rdns",
        r"cannot find your hostname",
        r"client host rejected: cannot find your (reverse )?hostname",
        r"no reverse",
        r"ip name lookup failed",
        r"hostname does not resolve",
        r"not resolve your ip",
    ),
    "notcompliantrfc": _words(
        r"rfc ?(5322|2822|822|1123|5321)",
        r"not rfc ?compliant",
        r"duplicate header",
        r"multiple (from|subject|date|to|message-id) headers",
        r"header field .* (violat|invalid)",
        r"message is not compliant",
    ),
    "badreputation": _words(
        r"(poor|low|bad) (ip )?reputation",
        r"sender reputation",
        r"reputation of (your|the sending)",
        r"temporarily rate limited due to ip reputation",
        r"ip reputation",
    ),
    "contenterror": _words(
        r"too many \"?received\"? headers",
        r"malformed (header|mime|message)",
        r"header (syntax|error)",
        r"invalid (header|mime|character)",
        r"message (content|body) (rejected|not accepted)",
        r"illegal (character|header)",
        r"8-?bit (data|characters) not allowed",
    ),
    "rejected": _words(
        r"sender (address |email address )?rejected",
        r"sender (was )?rejected",
        r"invalid sender",
        r"sender verify failed",
        r"sender address (has been )?blacklisted",
        r"sender is (spammer|in my black list)",
        r"domain of sender address",
        r"sender domain (is empty|does not exist|must exist|not found)",
        r"null sender is not allowed",
        r"empty envelope senders? not allowed",
        r"bogus mail from",
        r"access denied \(sender blacklisted\)",
        r"mail from not owned by user",
        r"unroutable sender address",
        r"your email address has been blacklisted",
        r"sender not pre-approved",
        r"batv (failed|validation)",
        r"administrative prohibition",
        r"returned mail not accepted here",
        r"emetteur invalide",
        r"this server does not accept mail from",
        r"you are not allowed to post to this mailing list",
        r"sender (email )?address (is )?(not|un)verified",
        r"from: domain is invalid",
    ),
    "hostunknown": _words(
        r"host unknown",
        r"unknown host",
        r"no such domain",
        r"domain (does not exist|doesn't exist|must exist|is not reachable|not found|unknown)",
        r"host (or domain name )?not found",
        r"host unreachable",
        r"name or service not known",
        r"recipient (address rejected: )?(unknown domain|domain must exist)",
        r"unrout(e)?able address",
        r"mail domain mentioned in email address is unknown",
        r"the account or domain may not exist",
        r"nxdomain",
        r"no (mx|dns) (or a )?records? (found )?for",
        r"domain name not found",
        r"all host address lookups failed permanently",
        r"non-existent (host|domain)",
        r"unknown domain",
        r"invalid domain",
        r"dom[aí]nio (n[aã]o existe|inexistente)",
        r"dominio (no existe|inexistente)",
    ),
    "spamdetected": _words(
        r"\bspam\b",
        r"unsolicited (mail|bulk|commercial)",
        r"junk mail",
        r"bulk mail",
        r"content (was )?(rejected|filtered|blocked)",
        r"message (content|body) (was )?(rejected|blocked)",
        r"rejected (by|due to) (content|the content) filter",
        r"detected as (spam|junk)",
        r"likely (unsolicited|spam)",
        r"message looks (like|suspicious)",
        r"suspicious (content|message|url)",
        r"high probability of (being )?spam",
        r"listed in .*(uribl|surbl|dbl)",
        r"phish",
        r"spam ?assassin",
        r"rejected as spam",
        r"x-spam",
        r"classified as spam",
    ),
    "speeding": _words(
        r"rate limit",
        r"rate-limit",
        r"ratelimit",
        r"sending (too fast|rate)",
        r"too (many|much) (mail|messages|email)s? (from|sent|in|too)",
        r"receiving mail at a rate",
        r"exceeded (the )?(sending|hourly|daily|rate) (limit|quota)",
        r"temporarily deferred due to unexpected volume",
        r"try again later.*(volume|rate)",
        r"slow down",
        r"throttl",
        r"message rate",
        r"too many (messages|emails) (in|per)",
        r"excessive (volume|rate)",
        r"unusual rate",
    ),
    "toomanyconn": _words(
        r"too many (concurrent |simultaneous |smtp )?(connections|sessions)",
        r"connection (limit|count) (exceeded|reached)",
        r"max(imum)? (number of )?connections",
        r"too many connections from",
    ),
    "blocked": _words(
        r"\bblock(ed|list|listed)\b",
        r"black ?list(ed)?",
        r"\brbl\b",
        r"\bdnsbl\b",
        r"spamhaus",
        r"spamcop",
        r"barracuda",
        r"sorbs",
        r"client host .* rejected",
        r"client host rejected",
        r"ip address .*(rejected|listed|banned|not allowed)",
        r"banned sending ip",
        r"access denied",
        r"connection refused",
        r"connection (reset|dropped)",
        r"not (currently )?accepting mail from your ip",
        r"your ip",
        r"sending ip",
        r"dynamic ip",
        r"helo command rejected",
        r"not allowed to send mail from",
        r"go away",
        r"refused to talk to me",
        r"rejecting open proxy",
        r"service not available, closing transmission channel",
        r"part of their network is on our block list",
        r"abus",
        r"listed (at|on|in) ",
        r"poor reputation",
        r"host network not allowed",
    ),
}
_LATER: dict[str, re.Pattern[str]] = {
    "virusdetected": _words(r"virus", r"malware", r"infected", r"trojan", r"\bworm\b"),
    "policyviolation": _words(
        r"policy",
        r"not (authorized|permitted|allowed)",
        r"prohibited",
        r"delivery not authorized",
        r"message refused",
        r"restricted",
        r"not accepted (by|for) (the )?(organization|recipient)",
        r"your message (was|has been) rejected",
        r"rejected by (the )?recipient",
        r"permission denied",
        r"transport rule",
        r"forbidden",
        r"compliance",
        r"\bdlp\b",
        r"attachment",
    ),
    "systemerror": _words(
        r"system (error|config)",
        r"server (error|configuration)",
        r"internal (server )?error",
        r"local (error|configuration error)",
        r"mail (forwarding )?loop",
        r"loop(s)? (back to|detected)",
        r"routing loop",
        r"too many hops",
        r"misconfigur",
        r"configuration (error|problem)",
        r"temporary (local )?problem",
        r"remote server (returned|is misconfigured)",
        r"unable to (deliver|process)",
        r"processing error",
        r"temporar(il)?y (failure|error|unavailable)",
        r"service (currently )?unavailable",
        r"try again later",
        r"server busy",
        r"resources? (temporarily )?unavailable",
    ),
    "networkerror": _words(
        r"network (error|unreachable)",
        r"no route to host",
        r"connection timed? ?out",
        r"timed out",
        r"dns (lookup|error|failure|problem)",
        r"name server",
        r"name service error",
        r"could not connect",
        r"unable to connect",
        r"connection (lost|closed|failed)",
        r"lost connection",
        r"host is unreachable",
        r"temporary failure in name resolution",
        r"malformed (dns|name server) reply",
        r"unreachable",
    ),
    "systemfull": _words(
        r"system (is )?full", r"disk full", r"out of disk", r"insufficient system storage"
    ),
    "notaccept": _words(
        r"does not accept mail",
        r"host does not accept mail",
        r"domain does not accept mail",
        r"mail receiving disabled",
        r"null ?mx",
        r"no mx record found for domain=",
        r"accepts no mail",
        r"smtp protocol returned a permanent error",
        r"no route for current request",
    ),
    "expired": _words(
        r"expired",
        r"timeout",
        r"retry time",
        r"too long in (the )?queue",
        r"gave up",
        r"giving up",
        r"could not be delivered within",
        r"undeliverable for \d+",
    ),
    "securityerror": _words(
        r"tls (is )?required",
        r"must issue a starttls",
        r"starttls",
        r"encryption required",
        r"authentication (required|failed|credentials)",
        r"certificate",
        r"security (policy|error)",
    ),
    "syntaxerror": _words(
        r"malformed (recipient )?address", r"syntax error", r"syntactically invalid"
    ),
    "mailererror": _words(
        r"mailer error", r"command (died|failed|output)", r"procmail", r"exit code"
    ),
}

# Codes that name a reason by themselves (RFC 3463 and its registry; the same reading
# sisimai gives them). A code not here says only its class and subject.
_CODE_REASON = {
    "4.1.6": "hasmoved", "4.1.7": "rejected", "4.1.8": "rejected", "4.1.9": "systemerror",
    "4.2.1": "blocked", "4.2.2": "mailboxfull", "4.2.3": "exceedlimit", "4.2.4": "filtered",
    "4.3.1": "systemfull", "4.3.2": "notaccept", "4.3.3": "systemerror", "4.3.5": "systemerror",
    "4.4.1": "expired", "4.4.2": "networkerror", "4.4.3": "systemerror", "4.4.4": "networkerror",
    "4.4.5": "systemfull", "4.4.6": "networkerror", "4.4.7": "expired", "4.4.8": "networkerror",
    "4.5.3": "systemerror", "4.5.5": "systemerror", "4.6.0": "contenterror",
    "4.6.2": "contenterror", "4.6.5": "contenterror", "4.7.1": "blocked", "4.7.2": "blocked",
    "4.7.5": "securityerror", "4.7.6": "securityerror", "4.7.7": "securityerror",
    "4.7.12": "securityerror", "4.7.15": "securityerror", "4.7.16": "mesgtoobig",
    "4.7.24": "authfailure", "4.7.25": "requireptr", "4.7.26": "authfailure",
    "5.1.0": "userunknown", "5.1.1": "userunknown", "5.1.2": "hostunknown",
    "5.1.3": "userunknown", "5.1.4": "filtered", "5.1.6": "hasmoved", "5.1.7": "rejected",
    "5.1.8": "rejected", "5.1.9": "systemerror", "5.1.10": "notaccept", "5.2.0": "filtered",
    "5.2.1": "filtered", "5.2.2": "mailboxfull", "5.2.3": "exceedlimit", "5.2.4": "filtered",
    "5.3.0": "systemerror", "5.3.1": "systemfull", "5.3.2": "notaccept",
    "5.3.3": "systemerror", "5.3.4": "mesgtoobig", "5.3.5": "systemerror",
    "5.4.0": "networkerror", "5.4.3": "systemerror", "5.4.4": "hostunknown",
    "5.5.2": "syntaxerror", "5.5.3": "toomanyconn", "5.5.4": "systemerror",
    "5.5.5": "systemerror", "5.5.6": "syntaxerror", "5.7.13": "suspend",
    "5.7.16": "mesgtoobig", "5.7.17": "hasmoved", "5.7.18": "hasmoved",
    "5.7.20": "authfailure", "5.7.21": "authfailure", "5.7.22": "authfailure",
    "5.7.23": "authfailure", "5.7.24": "authfailure", "5.7.25": "requireptr",
    "5.7.26": "authfailure", "5.7.27": "notaccept", "5.7.28": "spamdetected",
    "5.7.29": "authfailure", "5.7.30": "failedstarttls",
}  # fmt: skip
_CODE_REASON |= {f"5.6.{n}": "contenterror" for n in (0, 1, 2, 3, 5, 6, 7, 8, 9)}
_CODE_REASON |= {f"5.7.{n}": "securityerror" for n in (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11)}
_CODE_REASON |= {f"5.7.{n}": "securityerror" for n in (14, 15, 19)}

# A code's own reading, unless the text says one of these instead.
_CONTRADICTS_UNKNOWN = ("norelaying", "blocked", "mailboxfull", "hasmoved", "rejected")
_ADDRESS_REASONS = frozenset({"userunknown", "hostunknown", "hasmoved", "notaccept", "onhold"})
_VAGUE = frozenset({"", "undefined", "onhold", "systemerror", "securityerror", "expired"})


_BARE_UNKNOWN = re.compile(r"\b(user unknown|unknown user|mailbox unavailable)\b")
_NOT_ADDRESS_CLASS = frozenset({"", "2", "3", "4", "6", "7"})


def _matches(reason: str, text: str) -> bool:
    pattern = _REASONS.get(reason) or _LATER.get(reason)
    return bool(text) and pattern is not None and pattern.search(text) is not None


def reason_for(status: str, diagnostic: str, action: str = "", command: str = "") -> str:
    """sisimai's reason for one failed recipient: its code, its server's words (any case),
    the report's Action and the SMTP command refused (both optional)."""
    text = " ".join(diagnostic.lower().split())
    command = command or find_command(text)
    reason = _reason(status or find_status(text), text, action, command)
    if command == "MAIL" and reason in _ADDRESS_REASONS:
        # Refused at MAIL FROM: the words are about our sender address (an unknown
        # sender, a sender domain that does not resolve), not the recipient's.
        return "rejected"
    return reason


def _reason(status: str, text: str, action: str, command: str) -> str:
    coded = _CODE_REASON.get(status, "")
    for reason, pattern in _EXPLICIT:
        if pattern.search(text):
            return reason
    # The code's reading first, unless the words contradict it.
    if coded == "userunknown":
        if not any(_matches(r, text) for r in (*_CONTRADICTS_UNKNOWN, "suspend")):
            return "userunknown"
    elif coded == "hostunknown":
        if not _matches("networkerror", text) or _matches("hostunknown", text):
            return "hostunknown"
    elif coded == "exceedlimit" and _matches("mesgtoobig", text):
        return "mesgtoobig"  # x.2.3 is "too long" and sisimai names a message too large so
    elif coded in ("mailboxfull", "hasmoved", "suspend", "mesgtoobig", "exceedlimit"):
        return coded
    for reason, pattern in _REASONS.items():
        if not pattern.search(text):
            continue
        if reason == "userunknown":
            if coded == "suspend" or _REASONS["rejected"].search(text):
                continue  # it is the sender that was refused
            if (coded == "filtered" and command != "RCPT") or (
                command == "DATA" and coded != "userunknown"
            ):
                # The mailbox's status code (x.2.x), or refused after the content was read:
                # a filter's doing, not a missing mailbox.
                return "filtered"
            if command == "MAIL":
                return "rejected"
            if not command and status[2:3] in _NOT_ADDRESS_CLASS and _BARE_UNKNOWN.search(text):
                # A bare "user unknown" under no code, or under one that is not about the
                # address (x.2 mailbox, x.3 system, x.6 content, x.7 policy), and no command:
                # a gateway's filter speaking, as sisimai reads X1, McAfee, SES and
                # Messaging Server reports.
                return "filtered"
        if reason == "rejected" and command not in ("", "MAIL", "DATA") and coded not in _VAGUE:
            continue
        if reason == "norelaying" and command in ("CONN", "EHLO"):
            continue
        return reason
    for reason, pattern in _LATER.items():
        if pattern.search(text):
            return reason
    if coded:
        return coded
    klass = status[2:3] if status else ""
    if klass == "6":
        return "contenterror"
    if klass == "7":
        return "securityerror"
    if action in ("delayed", "expired"):
        return "expired"
    if command == "EHLO":
        return "blocked"
    return "onhold" if text.strip() else "undefined"


def bounce_type(reason: str, status: str = "", diagnostic: str = "") -> str:
    """Hard for an address that will never take mail, soft for every other reason."""
    if reason in HARD_REASONS:
        return "hard"
    if reason == "notaccept":
        code = status or find_status(diagnostic) or find_reply(diagnostic)
        return "soft" if code.startswith("4") else "hard"
    return "soft"


# --- a whole report ---------------------------------------------------------------------

# Where a bounce's own words end and the returned message begins.
_RETURNED = re.compile(
    r"^\s*(-{2,}.*(original message|returned message|copy of (the|your) message|message headers|"
    r"undelivered message|below this line|original headers)|"
    r"original message (headers|follows)|"
    r"-+ ?(this is a copy|the header of the original|a copy of the original)|"
    r"content-type: message/|received: from )",
    re.IGNORECASE | re.MULTILINE,
)
_DIAG_CLIP = 500
_NOT_RECIPIENTS = re.compile(
    r"^(mailer-daemon|postmaster|mail-?daemon|root|noreply|no-reply)@", re.I
)


def _own_text(body: str) -> str:
    match = _RETURNED.search(body)
    return body[: match.start()] if match else body[:20_000]


def _diagnostic(value: str) -> str:
    return _DIAG_TYPE.sub("", value).strip()


def _one(
    recipient: str, status: str, diagnostic: str, action: str, fallback: str, context: str = ""
) -> RecipientBounce:
    """One recipient's bounce; `context` is the report's own words about this recipient
    (Postfix and Exim say there which SMTP command was refused; the status part may not)."""
    diagnostic = _diagnostic(diagnostic)
    found = status if status and status[2:] != "0.0" else find_status(diagnostic) or status
    command = find_command(" ".join(diagnostic.split())) or find_command(context)
    reason = reason_for(found, diagnostic, action, command)
    if reason in ("onhold", "undefined") and fallback:
        # The status part said too little: the report's own words may say more.
        better = reason_for(found, f"{diagnostic} {fallback}", action, command)
        if better not in ("onhold", "undefined"):
            reason = better
        found = found or find_status(fallback)
    words = " ".join((diagnostic or fallback).split())[:_DIAG_CLIP]
    return RecipientBounce(recipient, bounce_type(reason, found, words), reason, found, words)


def _text_recipients(text: str, skip: Iterable[str]) -> list[str]:
    skipped = {s.lower() for s in skip}
    found: list[str] = []
    for address in parse_addresses(", ".join(re.findall(r"<?[\w.+'=-]+@[\w.-]+\.\w+>?", text))):
        email = address.email
        if email in skipped or _NOT_RECIPIENTS.match(email) or email in found:
            continue
        found.append(email)
    return found


def failed_statuses(parsed: ParsedMessage) -> list[RecipientStatus]:
    """The recipients a report says failed (not delayed, not delivered)."""
    return [s for s in parsed.delivery_status if s.failed]


def classify_bounce(parsed: ParsedMessage) -> Bounce | None:
    """Each failed recipient of a bounce, typed; None when nobody failed (every status
    `delayed`, `delivered` or `relayed`)."""
    text = _own_text(parsed.text_body or "")
    fallback = " ".join(text.split())
    statuses = failed_statuses(parsed)
    if parsed.delivery_status and not statuses and not parsed.failed_recipients:
        return None  # a delay or success notice
    recipients: list[RecipientBounce] = []
    seen: set[str] = set()
    for s in statuses:
        context = _near(text, s.recipient) if s.recipient else ""
        one = _one(s.recipient, s.status, s.diagnostic, s.action, fallback, context)
        if s.recipient in seen:
            continue
        seen.add(s.recipient)
        recipients.append(one)
    for address in parsed.failed_recipients:
        if address not in seen:
            seen.add(address)
            recipients.append(_one(address, "", _near(text, address), "failed", fallback))
    if not recipients:
        sender = [parsed.from_.email] if parsed.from_ else []
        to = [a.email for a in parsed.to]
        for address in _text_recipients(text, [*sender, *to]):
            recipients.append(_one(address, "", _near(text, address), "failed", fallback))
            break  # the first address in the words is the one they are about
    if not recipients:
        recipients.append(_one("", "", "", "failed", fallback))
    return Bounce(tuple(recipients))


_NEXT_ADDRESS_LINE = re.compile(r"\n[ \t]*<?[\w.+'=-]+@[\w.-]+\.\w+>?[ :]")


def _near(text: str, address: str, window: int = 600) -> str:
    """The words about one address in a plain-text bounce (qmail, Exim): from it on."""
    at = text.lower().find(address.lower())
    if at < 0:
        return ""
    # From the start of its line (">>> RCPT To:<address>" says which command was refused)
    # up to the next recipient's line: those words are about that one.
    start = text.rfind("\n", 0, at) + 1
    words = text[start : at + window]
    after = _NEXT_ADDRESS_LINE.search(words, at - start + len(address))
    return " ".join((words[: after.start()] if after else words).split())


def summary(bounce: Bounce | None) -> dict[str, object] | None:
    """The report as JSON: its type, reason and code, and whom it is about."""
    if bounce is None:
        return None
    return {
        "type": bounce.type,
        "recipients": bounce.addresses,
        "status": bounce.status or None,
        "reason": bounce.reason,
    }


def recipients_of(bounces: Sequence[RecipientBounce]) -> list[str]:
    return [b.recipient for b in bounces if b.recipient]
