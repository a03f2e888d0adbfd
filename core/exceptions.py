"""Domain errors that services raise; each carries the message the user should read."""

from __future__ import annotations

from typing import Any

from core.messages import N_


class DomainError(Exception):
    """An expected refusal: the user's input or the state of things does not allow the action."""

    message: str = N_("This action is not possible right now.")

    def __init__(self, message: str | None = None, **params: Any) -> None:
        if message is not None:
            self.message = message
        self.params = params
        super().__init__(self.message, params)

    def __str__(self) -> str:
        # English text for logs and the command line; people read the translated message.
        try:
            return self.message.format(**self.params)
        except (KeyError, IndexError, ValueError):
            return self.message


class ValidationFailed(DomainError):
    message = N_("Please check what you entered.")


class NotFound(DomainError):
    message = N_("That no longer exists.")


class PermissionDenied(DomainError):
    message = N_("You are not allowed to do that.")


class InvalidTransition(DomainError):
    message = N_("This request is no longer waiting for that action.")


class StaleVersion(DomainError):
    message = N_("The request was changed meanwhile. Please look at it again.")


class InsufficientStock(DomainError):
    message = N_(
        "Not enough stock of {item}: {requested} requested, {available} available. "
        "Nothing was changed."
    )
