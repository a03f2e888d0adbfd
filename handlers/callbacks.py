"""Callback data of the requester and approver buttons (the staff screens' is in
handlers/admin/callbacks.py), and the bounded field types both modules use.

Telegram clients can send any bytes as callback data, so every field is bounded where it is
parsed: a value out of its range does not unpack (pydantic's ValidationError is a ValueError),
the class's filter does not match, and the press falls through to the catch-all "no longer
active" (handlers/fallback.py) before any handler or query runs. Handlers still check what only
they can know: that an id exists, that an index is within today's list."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from aiogram.filters.callback_data import CallbackData
from pydantic import BeforeValidator, Field

from utils.digits import INT_MAX

MAX_ID = INT_MAX  # every id and version column
MAX_PAGE = 1_000_000  # beyond any list the bot pages; page × page size stays a small OFFSET
MAX_INDEX = 999  # an index into a list the bot showed: workflows, stages, presets
_PACKED_INT = re.compile(r"-?[0-9]{1,10}")  # how str(int) packs it: no "+", "_", spaces, "١"


def _packed_int(value: object) -> object:
    """Only what pack() writes: pydantic alone would take " +1_0 " as 10."""
    if isinstance(value, str) and not _PACKED_INT.fullmatch(value):
        raise ValueError("not a packed integer")
    return value


_PACKED = BeforeValidator(_packed_int)

Id = Annotated[int, _PACKED, Field(ge=1, le=MAX_ID)]  # a row's id, a request's version
Natural = Annotated[int, _PACKED, Field(ge=0, le=MAX_ID)]  # an id or 0 (none, all); a nonce
Page = Annotated[int, _PACKED, Field(ge=0, le=MAX_PAGE)]
Pick = Annotated[int, _PACKED, Field(ge=0, le=MAX_INDEX)]  # a preset shown on the button
# An index, or -1 where the screen offers "all" (a filter) or "type one instead" (TYPE_OWN).
Choice = Annotated[int, _PACKED, Field(ge=-1, le=MAX_INDEX)]
# A word the handler checks on arrival and answers when unknown ("That period does not exist").
Word = Annotated[str, Field(max_length=16, pattern=r"^[a-z_]*$")]


class DraftAction(StrEnum):
    ADD = "add"
    CONFIRM = "ok"
    CANCEL = "no"


class Decision(StrEnum):
    APPROVE = "a"
    REJECT = "r"


class ItemPage(CallbackData, prefix="ip"):
    page: Page


class ItemPick(CallbackData, prefix="it"):
    item_id: Id


class DraftCallback(CallbackData, prefix="dr"):
    action: DraftAction


class DecisionCallback(CallbackData, prefix="dc"):
    action: Decision
    request_id: Id
    version: Id


class LanguageCallback(CallbackData, prefix="lg"):
    code: Word


class MyRequestsPage(CallbackData, prefix="mr"):
    page: Page
