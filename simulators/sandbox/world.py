"""What the sandbox's page can do: people who write and press, faults, and the clock.

`Sandbox` holds the local Bot API server (the people's side of Telegram) and the running bot
(the same `bot.runner.running` the real bot uses). The chat a page shows is the person's own
messages, kept here, and the bot's messages as the server holds them now (edits applied)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from bot.commands import sync_staff_menus
from bot.factory import App
from bot.runner import Running
from bot.scheduler import guarded, job_specs
from services.users import TelegramProfile
from simulators.local_api import Fault, LocalBotAPI
from simulators.local_api.wire import MAX_TEXT_LENGTH, JsonDict
from simulators.sandbox.config import OffsetClock
from simulators.sandbox.people import (
    FIRST_ADDED_ID,
    PREPARED,
    ROLES,
    BadInput,
    Person,
    check_language,
    check_name,
    check_role,
    from_row,
)

MAX_FAULT_SECONDS = 600
MAX_ADVANCE_MINUTES = 7 * 24 * 60
SHOWN_MESSAGES = 200  # the newest messages of a chat the page shows
# What each fault button does to the local Bot API: (error code, methods it hits).
FAULTS: dict[str, tuple[int, tuple[str, ...]]] = {
    "flood": (429, ("sendMessage", "editMessageText")),  # Too Many Requests, retry after 5
    "outage": (502, ("*",)),  # Bad Gateway on everything, long polling included
    "blocked": (403, ("sendMessage", "editMessageText")),  # this person blocked the bot
}


class NotFoundInput(LookupError):
    """The page named a person or message that does not exist (a 404)."""


@dataclass
class ActiveFault:
    kind: str
    person_id: int | None
    faults: list[Fault] = field(default_factory=list)


class Sandbox:
    def __init__(self, api: LocalBotAPI, clock: OffsetClock, added: Path | None = None) -> None:
        self.api = api
        self.clock = clock
        self.added_file = added  # the people "add person" added: names before they write
        self.people: dict[int, Person] = {}
        self.typed: dict[int, list[JsonDict]] = {}  # each person's own messages
        self.pressed: dict[int, list[str]] = {}  # each person's callback query ids
        self.active_faults: list[ActiveFault] = []
        self._running: Running | None = None

    @property
    def running(self) -> Running:
        if self._running is None:
            raise RuntimeError("the sandbox's bot is not running yet")
        return self._running

    @property
    def app(self) -> App:
        return self.running.app

    async def attach(self, running: Running) -> None:
        """The bot is up: the prepared people exist, everyone known is in the switcher."""
        self._running = running
        scheduler = running.scheduler

        def next_run(job_id: str) -> datetime | None:
            # APScheduler keeps real time; health compares with the sandbox's moved clock.
            job = scheduler.get_job(job_id)
            at = None if job is None else getattr(job, "next_run_time", None)
            return None if at is None else at + self.clock.offset

        self.app.jobs.attach(next_run)
        # ADMIN_IDS gives Ada a row without a name before she is registered here.
        known_ids = {u.telegram_id for u in await self.app.users.list_users() if u.full_name}
        for person in PREPARED:
            if person.id not in known_ids:  # a restart keeps what the page changed since
                await self.register(person)
        names = self._added_names()
        for user in await self.app.users.list_users():
            known = self.people.get(user.telegram_id)
            if known is None:
                known = from_row(user)
                if not user.full_name and str(user.telegram_id) in names:
                    known = replace(
                        known, user=replace(known.user, first_name=names[str(user.telegram_id)])
                    )
            self.add(known)
        await sync_staff_menus(running.bot, self.app.users, self.app.i18n)

    async def register(self, person: Person) -> None:
        """Through the services, as the bot's user middleware would on a first message."""
        user = person.user
        profile = TelegramProfile(user.id, user.first_name, user.username, user.language_code)
        await self.app.users.register(profile)
        await self.app.users.grant(user.id, ROLES[person.role])
        self.add(person)

    def add(self, person: Person) -> None:
        self.people[person.id] = person
        self.api.users[person.id] = person.user

    def person(self, value: object) -> Person:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadInput("person: give the person's numeric id")
        found = self.people.get(value)
        if found is None:
            raise NotFoundInput(f"person {value} is not in the sandbox")
        return found

    # -- what the people do ------------------------------------------------------------------

    async def add_person(self, name: object, role: object, language: object) -> Person:
        checked = check_name(name), check_role(role), check_language(language)
        new_id = max([FIRST_ADDED_ID - 1, *self.people]) + 1
        first_name, role_label, code = checked
        person = Person(
            replace(
                PREPARED[0].user,
                id=new_id,
                first_name=first_name,
                language_code=code,
                username=None,
            ),
            role_label,
        )
        # Known to the bot by their role only, as after `users grant`: their first /start is
        # a first contact (the greeting), and it registers their name and language.
        await self.app.users.grant(new_id, ROLES[role_label])
        self.add(person)
        if self.added_file is not None:
            names = {**self._added_names(), str(new_id): first_name}
            self.added_file.write_text(json.dumps(names, ensure_ascii=False), encoding="utf-8")
        return person

    def _added_names(self) -> dict[str, str]:
        if self.added_file is None or not self.added_file.exists():
            return {}
        try:
            names = json.loads(self.added_file.read_text(encoding="utf-8"))
        except ValueError:
            return {}  # a damaged file costs only the names of people who never wrote
        return {str(k): str(v) for k, v in names.items()} if isinstance(names, dict) else {}

    async def set_language(self, person_id: object, language: object) -> Person:
        """The language of the person's Telegram app. The bot would see it on their next
        update; it is registered now, so notices already due speak it too."""
        person = self.person(person_id)
        code = check_language(language)
        changed = replace(person, user=replace(person.user, language_code=code))
        user = changed.user
        await self.app.users.register(
            TelegramProfile(user.id, user.first_name, user.username, user.language_code)
        )
        self.add(changed)
        await sync_staff_menus(self.running.bot, self.app.users, self.app.i18n)
        return changed

    def send(self, person_id: object, text: object) -> JsonDict:
        person = self.person(person_id)
        if not isinstance(text, str) or not text.strip():
            raise BadInput("text: write something to send")
        if len(text) > MAX_TEXT_LENGTH:
            raise BadInput(f"text: at most {MAX_TEXT_LENGTH} characters, as in Telegram")
        message = self.api.push_message(person.user, text)
        self.typed.setdefault(person.id, []).append(message)
        return message

    def press(self, person_id: object, message_id: object, data: object) -> str:
        """A button under one of the bot's messages in the person's chat, by its callback data
        (the page cannot press a button the message does not show)."""
        person = self.person(person_id)
        if not isinstance(message_id, int) or isinstance(message_id, bool):
            raise BadInput("message_id: give the message's numeric id")
        if not isinstance(data, str) or not data:
            raise BadInput("data: give the button's callback data")
        message = self.api.messages.get((person.id, message_id))
        if message is None:
            raise NotFoundInput(f"message {message_id} is not in {person.user.first_name}'s chat")
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == data for row in rows for b in row):
            raise BadInput("data: that message has no button with this callback data")
        query_id = self.api.push_callback(person.user, message, data)
        self.pressed.setdefault(person.id, []).append(query_id)
        return query_id

    # -- faults and time ---------------------------------------------------------------------

    def fault(self, kind: object, seconds: object, person_id: object = None) -> ActiveFault:
        if not isinstance(kind, str) or kind not in FAULTS:
            raise BadInput(f"kind: one of {', '.join(FAULTS)}")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool):
            raise BadInput("seconds: give a number of seconds")
        if not 1 <= seconds <= MAX_FAULT_SECONDS:
            raise BadInput(f"seconds: between 1 and {MAX_FAULT_SECONDS}")
        code, methods = FAULTS[kind]
        chat = self.person(person_id).id if kind == "blocked" else None
        active = ActiveFault(kind, chat)
        for method in methods:
            match = None if chat is None else (lambda p, c=chat: p.get("chat_id") == c)
            retry_after = 5 if code == 429 else None
            fault = self.api.fail_for(
                float(seconds), code, method=method, match=match, retry_after=retry_after
            )
            active.faults.append(fault)
        self.active_faults.append(active)
        return active

    def calm(self) -> None:
        self.api.calm()
        self.active_faults.clear()

    async def advance(self, minutes: object) -> dict[str, str]:
        """Move the clock forward and run every scheduler job now, as if that time passed."""
        if not isinstance(minutes, int) or isinstance(minutes, bool):
            raise BadInput("minutes: give a whole number of minutes")
        if not 1 <= minutes <= MAX_ADVANCE_MINUTES:
            raise BadInput(f"minutes: between 1 and {MAX_ADVANCE_MINUTES} (a week)")
        self.clock.advance(timedelta(minutes=minutes))
        results = {}
        for spec in job_specs(self.app):
            job = guarded(self.app, spec.job_id, spec.work, exclusive=spec.exclusive)
            outcome = await job()
            self.app.jobs.finished(spec.job_id, outcome)  # as the scheduler's event would
            results[spec.job_id] = outcome.result.value
        return results

    # -- what the page shows -----------------------------------------------------------------

    def faults_now(self) -> list[dict[str, Any]]:
        now = self.api.clock()
        shown = []
        for active in self.active_faults:
            left = max((f.until or now) - now for f in active.faults)
            if left > 0 and all(f in self.api.faults for f in active.faults):
                shown.append(
                    {"kind": active.kind, "person": active.person_id, "seconds_left": round(left)}
                )
        self.active_faults = [
            a
            for a in self.active_faults
            if any(f in self.api.faults and (f.until or now) > now for f in a.faults)
        ]
        return shown

    def chat(self, person: Person) -> list[JsonDict]:
        mine = [{**m, "mine": True} for m in self.typed.get(person.id, [])]
        bots = [{**m, "mine": False} for m in self.api.chat_messages(person.id)]
        messages = sorted([*mine, *bots], key=lambda m: int(m["message_id"]))
        return [_shown(m) for m in messages[-SHOWN_MESSAGES:]]

    def answers(self, person: Person) -> list[JsonDict]:
        shown = []
        for query_id in self.pressed.get(person.id, []):
            for n, answer in enumerate(self.api.callback_answers.get(query_id, [])):
                if answer.get("text"):
                    shown.append(
                        {
                            "id": f"{query_id}.{n}",
                            "text": answer["text"],
                            "alert": bool(answer.get("show_alert")),
                        }
                    )
        return shown

    def state(self, person_id: object) -> dict[str, Any]:
        person = self.person(person_id)
        return {
            "revision": self.api.revision,
            "person": person.as_json(),
            "people": [p.as_json() for p in sorted(self.people.values(), key=lambda p: p.id)],
            "messages": self.chat(person),
            "answers": self.answers(person),
            "commands": self.api.menu_for(person.id, person.user.language_code),
            "clock": {
                "now": self.clock.now().isoformat(timespec="minutes"),
                "offset_minutes": round(self.clock.offset.total_seconds() / 60),
            },
            "faults": self.faults_now(),
        }


def _shown(message: JsonDict) -> JsonDict:
    """A message as the page draws it: text, entities (UTF-16 offsets, as JavaScript counts),
    its inline keyboard and whether it was edited."""
    return {
        "id": message["message_id"],
        "mine": message["mine"],
        "text": message.get("text", ""),
        "entities": message.get("entities", []),
        "keyboard": message.get("reply_markup", {}).get("inline_keyboard", []),
        "edited": "edit_date" in message,
        "date": message.get("date"),
    }
