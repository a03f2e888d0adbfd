"""The people the sandbox plays: the prepared five and whoever "add person" adds."""

from __future__ import annotations

from dataclasses import dataclass

from core.enums import Role
from core.settings import SUPPORTED_LOCALES
from database.models import User
from simulators.local_api import FakeUser

# What the page calls a role; an employee is the bot's requester.
ROLES: dict[str, Role] = {
    "employee": Role.REQUESTER,
    "manager": Role.MANAGER,
    "storekeeper": Role.STOREKEEPER,
    "support": Role.SUPPORT,
    "admin": Role.ADMIN,
}
LANGUAGES = SUPPORTED_LOCALES
MAX_NAME = 64
FIRST_ADDED_ID = 5001  # added people get ids from here; prepared ones have 1001-1005


@dataclass(frozen=True)
class Person:
    user: FakeUser
    role: str  # a key of ROLES

    @property
    def id(self) -> int:
        return self.user.id

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.user.first_name,
            "role": self.role,
            "language": self.user.language_code,
        }


def prepared(id_: int, name: str, role: str, language: str) -> Person:
    return Person(FakeUser(id_, name, username=name.lower(), language_code=language), role)


PREPARED = (
    prepared(1001, "Anna", "employee", "en"),
    prepared(1002, "Boris", "manager", "ru"),
    prepared(1003, "Carmen", "storekeeper", "es"),
    prepared(1004, "Sue", "support", "en"),
    prepared(1005, "Ada", "admin", "en"),
)
ADMIN_ID = 1005
# Demo data only: an employee who has blocked the bot (his notice is the dead one).
BLOCKED = prepared(1006, "Olaf", "employee", "en")


def role_of(user: User) -> str:
    """The page's role label for a person: the highest role they hold."""
    roles = user.role_set
    for label in ("admin", "support", "storekeeper", "manager"):
        if ROLES[label] in roles:
            return label
    return "employee"


def from_row(user: User) -> Person:
    """A person known to the database (a restart, or added earlier) back in the switcher."""
    name = user.full_name or f"User {user.telegram_id}"
    fake = FakeUser(
        user.telegram_id, name, username=user.username, language_code=user.telegram_language
    )
    return Person(fake, role_of(user))


class BadInput(ValueError):
    """A value the page sent that the sandbox cannot use; the message says why (a 400)."""


def check_name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadInput("name: give the person's first name")
    name = " ".join(value.split())
    if len(name) > MAX_NAME:
        raise BadInput(f"name: at most {MAX_NAME} characters")
    return name


def check_role(value: object) -> str:
    if value not in ROLES:
        raise BadInput(f"role: one of {', '.join(ROLES)}")
    return str(value)


def check_language(value: object) -> str:
    if value not in LANGUAGES:
        raise BadInput(f"language: one of {', '.join(LANGUAGES)}")
    return str(value)
