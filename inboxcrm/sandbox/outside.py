"""The world outside the sandbox's accounts: recipients that answer mail and an audience
that fetches its URLs, each action due at a time on the sandbox clock.

Nothing runs by itself in tests: they move the clock and ask for what is due
(POST /_sandbox/run). The demo starts a runner thread that does the same every second.
Every action taken is logged with what the app answered, so a test or benchmark can
compare what the app counted with what really happened.
"""

import heapq
import threading
from dataclasses import asdict, dataclass, field
from typing import Any

from inboxcrm.sandbox import audience as people
from inboxcrm.sandbox.delivery import INCOMING, receive
from inboxcrm.sandbox.recipients import Behaviour, Recipients, answer
from inboxcrm.sandbox.state import Account, SentRecord, State, StoredMessage

# The demo's world: most mail is delivered; a few bounce or answer (replies come from the
# recipient rates); the audience mixes the machines every campaign meets with a few people.
DEMO_RECIPIENTS = {"unknown": 0.02, "full": 0.01, "blocked": 0.01, "out_of_office": 0.05,
                   "automatic_reply": 0.02, "reply": 0.03, "unsubscribe_reply": 0.01}  # fmt: skip
DEMO_AUDIENCE = {"scanner": 0.15, "mpp": 0.3, "image_proxy": 0.35, "person_open": 0.2,
                 "click": 0.08, "unsubscribe": 0.02}  # fmt: skip


@dataclass
class Action:
    what: str  # a recipient behaviour or an audience action
    recipient: str
    mailbox: str
    message: StoredMessage  # the sent message (kept: the sender may delete it meanwhile)
    sent_at: float
    due: float
    behaviour: Behaviour | None = None


@dataclass
class Entry:
    """One thing the outside world did, as the log shows it."""

    what: str
    recipient: str
    mailbox: str
    message: str  # the sent message's Gmail id
    message_id: str  # and its Message-ID
    sent_at: float
    due: float
    at: float
    method: str | None = None
    url: str | None = None
    user_agent: str | None = None
    source: str | None = None
    status: int | str | None = None  # HTTP status, or a report's Status code
    note: str = ""


@dataclass(order=True)
class _Due:
    at: float
    seq: int
    action: Action = field(compare=False)


class Outside:
    def __init__(self, state: State) -> None:
        self.state = state
        self._running = threading.Lock()  # one run at a time keeps the log in due order
        self._stop = threading.Event()
        self._runner: threading.Thread | None = None
        self.clear()

    def clear(self) -> None:
        with self.state.lock:
            self.recipients = Recipients()
            self.audience = people.Audience()
            self._due: list[_Due] = []
            self._seq = 0
            self.log: list[Entry] = []

    def demo(self) -> None:
        """The demo seed's rates."""
        with self.state.lock:
            self.recipients.set_rates(DEMO_RECIPIENTS, seed="demo")
            self.audience.configure({"rates": DEMO_AUDIENCE, "seed": "demo"})

    # -- the hooks delivery.send calls, under the state lock ----------------------------------
    def knows(self, address: str) -> bool:
        return self.recipients.knows(address)

    def arrive(
        self, account: Account, message: StoredMessage, record: SentRecord, address: str
    ) -> None:
        """Mail reached an outside address: plan its answer and its audience."""
        now = self.state.clock.now()
        behaviour = self.recipients.behaviour(address)
        if behaviour is not None and behaviour.name != "deliver":
            self._plan(Action(behaviour.name, address, account.email, message, now,
                              now + behaviour.seconds(), behaviour))  # fmt: skip
            if behaviour.failure is not None:
                return  # nobody reads mail that did not arrive
        for what, delay in self.audience.actions(address):
            self._plan(Action(what, address, account.email, message, now, now + delay))

    def _plan(self, action: Action) -> None:
        self._seq += 1
        heapq.heappush(self._due, _Due(action.due, self._seq, action))

    # -- running what is due ---------------------------------------------------------------
    def pending(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [
                {"what": d.action.what, "recipient": d.action.recipient, "due": d.at}
                for d in sorted(self._due)
            ]

    def run_due(self) -> list[Entry]:
        """Take every action due by now on the sandbox clock; returns what was done."""
        with self._running:
            with self.state.lock:
                now = self.state.clock.now()
                due = []
                while self._due and self._due[0].at <= now:
                    due.append(heapq.heappop(self._due).action)
            done: list[Entry] = []
            for action in due:
                done += self._web(action) if action.what in people.WEB else self._mail(action)
            with self.state.lock:
                self.log += done
            return done

    def _entry(self, action: Action, **values: Any) -> Entry:
        return Entry(
            action.what, action.recipient, action.mailbox, action.message.id,
            action.message.parsed.header("message-id"), action.sent_at, action.due,
            self.state.clock.now(), **values,
        )  # fmt: skip

    def _mail(self, action: Action) -> list[Entry]:
        behaviour = action.behaviour or Behaviour("reply")
        with self.state.lock:
            account = self.state.accounts.get(action.mailbox)
            if account is None:
                return [self._entry(action, note="the sending account is gone")]
            raw = answer(behaviour, action.message, action.recipient, self.state.clock.now())
            failure = behaviour.failure
            if failure is not None and behaviour.mta == "gmail":
                # Gmail threads its own reports with the message they are about.
                got = account.mailbox.add(raw, INCOMING, thread_id=action.message.thread_id)
            else:
                got = receive(account.mailbox, raw)
            if failure is not None and not failure.delayed:
                for record in self.state.sent:
                    if record.id == action.message.id and record.mailbox == action.mailbox:
                        record.bounced.append(action.recipient)
            status = got.parsed.header("subject")
            note = f"{behaviour.mta} {status}" if failure else status
            code = getattr(failure, behaviour.mta)[0] if failure else None
            return [self._entry(action, status=code, note=note)]

    def _web(self, action: Action) -> list[Entry]:
        page = people.read(action.message.raw)
        fetches = people.fetches(action.what, page, action.recipient)
        if not fetches:
            note = page.unsubscribe_note if action.what == "unsubscribe" else "nothing to fetch"
            return [self._entry(action, note=note)]
        entries = []
        for fetch in fetches:
            status, note = people.send(fetch, self.state.clock.now())
            entries.append(
                self._entry(
                    action,
                    method=fetch.method,
                    url=fetch.url,
                    user_agent=fetch.user_agent,
                    source=fetch.source,
                    status=status,
                    note=note,
                )
            )
        return entries

    def entries(self) -> list[dict[str, Any]]:
        with self.state.lock:
            return [asdict(e) for e in self.log]

    # -- the demo's runner -----------------------------------------------------------------
    def start(self, interval: float = 1.0) -> None:
        """Run what is due every `interval` seconds in a background thread (the demo)."""
        if self._runner is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(interval):
                self.run_due()

        self._runner = threading.Thread(target=loop, name="sandbox-outside", daemon=True)
        self._runner.start()

    def stop(self) -> None:
        self._stop.set()
        if self._runner is not None:
            self._runner.join(timeout=5)
            self._runner = None
