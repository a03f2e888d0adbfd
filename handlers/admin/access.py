"""Who may use the staff screens: filters that routers carry, so no handler checks it again;
`require_admin` for the steps that only admins may take, where support may look.

The admin-only refusals are said by the section (to support), by refusals.py (to everyone
else) and, last, by the service that applies the step: it reads the actor's roles and active
flag again in its own transaction (services/users.py:acting), because the `user` a handler
gets is cached for USER_CACHE_SECONDS and another process may have revoked the role meanwhile.
So the words live with those services and are named here for the screens."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from core.enums import Role
from core.exceptions import PermissionDenied
from database.models import User
from services.error_records import RESOLVE_ERRORS
from services.notification_admin import DISCARD_NOTIFICATIONS
from services.reconciliation.service import CHANGE_INVENTORY
from services.users import is_admin, is_staff

__all__ = [
    "ADMINS",
    "CHANGE_INVENTORY",
    "DISCARD_NOTIFICATIONS",
    "RESOLVE_ERRORS",
    "STAFF",
    "HasRole",
    "is_admin",
    "require_admin",
]


class HasRole(Filter):
    """Passes when the person (the `user` the user middleware loaded) holds an allowed role."""

    def __init__(self, allowed: Callable[[frozenset[Role]], bool]) -> None:
        self.allowed = allowed

    async def __call__(self, event: TelegramObject, user: User | None = None) -> bool:
        return user is not None and self.allowed(user.role_set)


STAFF = HasRole(is_staff)  # admins and support
ADMINS = HasRole(is_admin)


def require_admin(user: User, refusal: str) -> None:
    """A step only admins may take; `refusal` is the section's words for the others."""
    if not is_admin(user.role_set):
        raise PermissionDenied(refusal)
