"""The people of the simulated day and what they do, only through the local Bot API.

Requesters build requests on the bot's screens (/new_request, an item, a quantity, Submit);
assignees press Approve or Reject on the notifications they get, after a human delay; admins
open /workflow_recovery. Every update a person sends is logged with the call index it was
pushed at, so the audit can tell later whether the bot ever answered it."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from simulators.local_api import ApiCall, FakeUser, LocalBotAPI
from simulators.local_api.wire import JsonDict

ADMIN = FakeUser(900, "Ada")
MANAGERS = (FakeUser(201, "Max"), FakeUser(202, "Mia"))
KEEPERS = (FakeUser(301, "Sam"), FakeUser(302, "Sue"))
REQUESTERS = tuple(
    FakeUser(101 + i, name) for i, name in enumerate(["Rita", "Ravi", "Rosa", "Rex"])
)
PROBE = FakeUser(199, "Pat")  # asks /my_requests to see whether the bot serves again
EVERYONE = (ADMIN, *MANAGERS, *KEEPERS, *REQUESTERS, PROBE)
ITEMS = (
    ("PAPER", "Paper A4", 400),
    ("PEN", "Blue pen", 600),
    ("TAPE", "Tape", 300),
    ("GLUE", "Glue stick", 200),
)

STEP_TIMEOUT = 20 * 60.0  # a person gives up on a screen that has not answered in 20 min


@dataclass
class Sent:
    """One update a person pushed: what, to which chat, at which call index and moment."""

    user: int
    kind: str  # "message" or "callback"
    mark: int
    at: float
    query_id: str | None = None
    until: int | None = None  # the call index of the person's next update: the answer is before


@dataclass
class Step:
    ready: Callable[[], bool]
    act: Callable[[], None]


@dataclass
class Conversation:
    user: FakeUser
    steps: list[Step]
    since: float
    done: bool = False
    gave_up: bool = False


@dataclass
class People:
    api: LocalBotAPI
    rng: random.Random
    now: Callable[[], float]
    sent: list[Sent] = field(default_factory=list)
    waiting: dict[int, list[Sent]] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)  # blocked the bot: Telegram takes nothing
    conversations: list[Conversation] = field(default_factory=list)
    silent: set[int] = field(default_factory=set)  # assignees who stopped pressing
    gone: set[int] = field(default_factory=set)  # deactivated, or blocked the bot
    seen: set[tuple[int, int]] = field(default_factory=set)  # (chat, message) decided
    planned: list[tuple[float, FakeUser, JsonDict, bool]] = field(default_factory=list)
    max_delay: float = 40 * 60.0  # the longest a person takes to decide

    # -- what a person sends --------------------------------------------------------------

    def say(self, user: FakeUser, text: str) -> None:
        if user.id in self.blocked:
            return
        self._log(Sent(user.id, "message", self.api.mark(), self.now()))
        self.api.push_message(user, text)

    def click(self, user: FakeUser, message: JsonDict, data: str) -> None:
        if user.id in self.blocked:
            return
        mark = self.api.mark()
        query = self.api.push_callback(user, message, data)
        self._log(Sent(user.id, "callback", mark, self.now(), query))

    def _log(self, sent: Sent) -> None:
        # Updates pushed in one tick share a mark: each one's answer window ends at the
        # person's first update pushed after the bot could answer (a later call index).
        waiting = self.waiting.setdefault(sent.user, [])
        for earlier in waiting:
            if earlier.mark < sent.mark:
                earlier.until = sent.mark
        waiting[:] = [e for e in waiting if e.until is None]
        waiting.append(sent)
        self.sent.append(sent)

    def press(self, user: FakeUser, label: str | Callable[[str], bool]) -> None:
        message, button = self.api.find_button(user.id, label)
        self.click(user, message, str(button["callback_data"]))

    def has_button(self, user: FakeUser, label: str | Callable[[str], bool]) -> bool:
        try:
            self.api.find_button(user.id, label)
        except AssertionError:
            return False
        return True

    def replied(self, user: FakeUser, contains: str, since: int) -> bool:
        return any(
            c.ok and c.chat_id == user.id and contains in c.text
            for c in self.api.calls[since:]
            if c.method in ("sendMessage", "editMessageText")
        )

    # -- the day ----------------------------------------------------------------------------

    def new_request(self, user: FakeUser) -> None:
        """The four screens of a request, each step once the bot has shown the one before."""
        name = self.rng.choice(ITEMS)[1]
        quantity = str(self.rng.randint(1, 4))
        marks: dict[str, int] = {}

        def at(key: str, act: Callable[[], None]) -> Callable[[], None]:
            def run() -> None:
                marks[key] = self.api.mark()
                act()

            return run

        steps = [
            Step(lambda: True, at("new", lambda: self.say(user, "/new_request"))),
            Step(
                lambda: self.replied(user, "Choose an item", marks["new"]),
                at("item", lambda: self.press(user, lambda label: label.startswith(name))),
            ),
            Step(
                lambda: self.replied(user, "How many of", marks["item"]),
                at("qty", lambda: self.say(user, quantity)),
            ),
            Step(
                lambda: (
                    self.replied(user, "Your request so far", marks["qty"])
                    and self.has_button(user, "Submit request")
                ),
                at("submit", lambda: self.press(user, "Submit request")),
            ),
            Step(lambda: self.replied(user, "is submitted", marks["submit"]), lambda: None),
        ]
        self.conversations.append(Conversation(user, steps, self.now()))

    def step_conversations(self) -> None:
        for conv in self.conversations:
            if conv.done or conv.gave_up:
                continue
            if conv.user.id in self.gone:
                conv.gave_up = True
                continue
            step = conv.steps[0]
            if step.ready():
                conv.steps.pop(0)
                conv.since = self.now()
                step.act()
                conv.done = not conv.steps
            elif self.now() - conv.since > STEP_TIMEOUT:
                conv.gave_up = True

    def decide(self, assignees: tuple[FakeUser, ...]) -> None:
        """Assignees notice new decision messages and act on them after a human delay."""
        now = self.now()
        for user in assignees:
            if user.id in self.silent or user.id in self.gone:
                continue
            for message in self.api.messages_with_buttons(user.id):
                key = (user.id, int(message["message_id"]))
                if key in self.seen or not _labels(message) >= {"Approve", "Reject"}:
                    continue
                self.seen.add(key)
                delay = self.rng.uniform(60, self.max_delay)
                self.planned.append((now + delay, user, message, self.rng.random() < 0.15))
        due = [p for p in self.planned if p[0] <= now]
        self.planned = [p for p in self.planned if p[0] > now]
        for _, user, message, reject in due:
            if user.id in self.silent or user.id in self.gone:
                continue
            current = self.api.messages.get((user.id, int(message["message_id"])), message)
            button = _button(current, "Reject" if reject else "Approve")
            if button is None:
                continue  # decided meanwhile, or the keyboard is gone
            self.click(user, current, str(button["callback_data"]))
            if reject:
                mark = self.api.mark()

                def ready(user: FakeUser = user, mark: int = mark) -> bool:
                    return self.replied(user, "Why do you reject", mark)

                def act(user: FakeUser = user) -> None:
                    self.say(user, "not in the budget this month")

                self.conversations.append(Conversation(user, [Step(ready, act)], now))


def _labels(message: JsonDict) -> set[str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {str(b.get("text")) for row in rows for b in row}


def _button(message: JsonDict, label: str) -> JsonDict | None:
    for row in message.get("reply_markup", {}).get("inline_keyboard", []):
        for button in row:
            if button.get("text") == label:
                return dict(button)
    return None


def answered(api: LocalBotAPI, sent: Sent) -> ApiCall | None:
    """The bot's answer to one update: that query's answer (whenever it came), or a message to
    the chat after it and before the person's next update (a later notification is no answer
    to it; people wait for the reply before they write again)."""
    until = None if sent.kind == "callback" else sent.until
    for call in api.calls[sent.mark : until]:
        if not call.ok:
            continue
        if sent.kind == "callback":
            if call.method == "answerCallbackQuery" and (
                call.params.get("callback_query_id") == sent.query_id
            ):
                return call
        elif call.method in ("sendMessage", "editMessageText") and call.chat_id == sent.user:
            return call
    return None
