"""Who may use the staff screens: filters that routers carry, so no handler checks it again;
`require_admin` for the steps that only admins may take, where support may look.

The admin-only refusals are said both by the section (to support) and by refusals.py (to
everyone else), so their words live here."""

from __future__ import annotations

from collections.abc import Callable

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from core.enums import Role
from core.exceptions import PermissionDenied
from core.i18n import N_
from database.models import User
from services.users import is_staff

CHANGE_INVENTORY = N_("Only admins can change inventory. Support can only look.")
DISCARD_NOTIFICATIONS = N_("Only admins can discard notifications.")
RESOLVE_ERRORS = N_("Only admins can resolve errors.")


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


def require_admin(user: User, refusal: str) -> None:
    """A step only admins may take; `refusal` is the section's words for the others."""
    if not is_admin(user.role_set):
        raise PermissionDenied(refusal)
