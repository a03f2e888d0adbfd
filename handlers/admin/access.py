"""Who may use the staff screens: filters that routers carry, so no handler checks it again."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from core.enums import Role
from database.models import User
from services.users import is_staff


def is_admin(roles: frozenset[Role]) -> bool:
    return Role.ADMIN in roles


class HasRole(Filter):
    """Passes when the person (the `user` the user middleware loaded) holds an allowed role."""

    def __init__(self, allowed: Callable[[frozenset[Role]], bool]) -> None:
        self.allowed = allowed

    async def __call__(self, event: TelegramObject, user: User | None = None) -> bool:
        return user is not None and self.allowed(user.role_set)


STAFF = HasRole(is_staff)  # admins and support
ADMINS = HasRole(is_admin)
