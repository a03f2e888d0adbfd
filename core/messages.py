"""Marking texts for translation without loading the translation machinery.

Domain errors and settings are imported by the command line before it knows whether it needs
aiogram at all, so the marks live here, free of imports; `core.i18n` hands them on."""

from __future__ import annotations


def N_(message: str) -> str:
    """Mark a text for extraction; it is translated later, where it is shown."""
    return message


class Msg(str):
    """A message id passed as a parameter, translated when the outer message is rendered."""

    __slots__ = ()
