"""Frozen dataclasses as the JSON a table stores, written and read by their fields' types.

`dump()` writes a record's fields in their order under their names (a field's metadata
`{"key": …}` stores it under another key; `WRITTEN_WHEN_SET` leaves a false flag or an unset
value out), enum
members as their values, tuples as lists. `load()` reads one back strictly — an integer is
not a bool or a numeric string, an enum value must be a member — and says what does not fit:
the record, the path to the key, and what was found. What older rows may lack is read as
absent: an optional value as None, a flag as false, a tuple with a default as its default.

Knows nothing of the bot: the types are plain Python (int, str, bool, Enum, tuples, nested
dataclasses, `X | None`)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from enum import Enum
from typing import Any, TypeAlias, TypeVar

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"] | None

T = TypeVar("T")
WRITTEN_WHEN_SET = {"when_set": True}  # a key written only when its value is set (true, given)


SCALARS = {bool: "true or false", int: "an integer", str: "a string"}


class Unreadable(ValueError):
    """A stored record that does not fit its type: a key missing, or a value of a wrong type."""


def dump(record: object) -> dict[str, Json]:
    out: dict[str, Json] = {}
    for field in dataclasses.fields(record):  # type: ignore[arg-type]
        value = getattr(record, field.name)
        if field.metadata.get("when_set") and not value:
            continue
        out[field.metadata.get("key", field.name)] = _dump(value)
    return out


def _dump(value: object) -> Json:
    if isinstance(value, Enum):
        return _dump(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dump(value)
    if isinstance(value, tuple | list):
        return [_dump(item) for item in value]
    return value  # type: ignore[return-value]  # str, int, float, bool or None by the types


def load(cls: type[T], data: object, name: str) -> T:
    """Read `data` as a `cls`; `name` is how errors call the record (e.g. its kind)."""
    return _Reader(name, "").record(cls, data)


@functools.cache
def _hints(cls: Any) -> tuple[tuple[str, str, Any, bool], ...]:
    """(attribute, key, type, has a default) of each field, resolved once per class."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (
            f.name,
            f.metadata.get("key", f.name),
            hints[f.name],
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING,
        )
        for f in dataclasses.fields(cls)
        if f.init
    )


class _Reader:
    def __init__(self, name: str, where: str) -> None:
        self.name = name
        self.where = where  # the path inside the record, for nested values

    def fail(self, message: str) -> Unreadable:
        return Unreadable(f"{self.name}{self.where}: {message}")

    def record(self, cls: type[T], data: object) -> T:
        if not isinstance(data, dict):
            raise self.fail(f"expected a JSON object, got {_show(data)}")
        values: dict[str, object] = {}
        for attribute, key, kind, has_default in _hints(typing.cast(type, cls)):
            if key in data:
                values[attribute] = self.value(key, kind, data[key])
            elif kind is bool:
                values[attribute] = False  # a flag older rows lack
            elif _optional(kind):
                values[attribute] = None
            elif not has_default:
                raise self.fail(f"{key!r} is missing")
        return cls(**values)

    def value(self, key: str, kind: Any, value: object) -> object:
        if _optional(kind):
            return None if value is None else self.value(key, _optional(kind), value)
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin is tuple:
            return self.items(key, args, value)
        if dataclasses.is_dataclass(kind):
            return _Reader(self.name, self.where).record(kind, value)  # type: ignore[arg-type]
        if isinstance(kind, type) and issubclass(kind, Enum):
            try:
                return kind(value)
            except (ValueError, TypeError):
                raise self.wrong(key, f"one of {[m.value for m in kind]}", value) from None
        return self.scalar(key, kind, value)

    def scalar(self, key: str, kind: Any, value: object) -> object:
        # bool is an int to Python, never to a stored record.
        if (
            kind in SCALARS
            and isinstance(value, kind)
            and (kind is bool or not isinstance(value, bool))
        ):
            return value
        raise self.wrong(key, SCALARS.get(kind, str(kind)), value)

    def items(self, key: str, args: tuple[Any, ...], value: object) -> tuple[object, ...]:
        if not isinstance(value, list):
            raise self.wrong(key, "a list", value)
        if len(args) == 2 and args[1] is Ellipsis:  # tuple[X, ...]: any length
            kinds = [args[0]] * len(value)
        elif len(value) == len(args):  # tuple[X, Y]: exactly these
            kinds = list(args)
        else:
            raise self.wrong(key, f"a list of {len(args)}", value)
        return tuple(
            _Reader(self.name, f"{self.where}.{key}[{n}]").value(key, item_kind, item)
            if dataclasses.is_dataclass(item_kind)
            else self.value(key, item_kind, item)
            for n, (item_kind, item) in enumerate(zip(kinds, value, strict=True))
        )

    def wrong(self, key: str, expected: str, value: object) -> Unreadable:
        return self.fail(f"{key!r} should be {expected}, got {_show(value)}")


def _optional(kind: Any) -> Any:
    """X for `X | None`, else None."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        rest = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(rest) == 1 and len(typing.get_args(kind)) == 2:
            return rest[0]
    return None


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."
