"""Reading one stored notification payload key by key, with an error that names the kind, the
key and what was found instead: a row that does not fit is reported, never half-rendered."""

from __future__ import annotations

from enum import Enum
from typing import TypeAlias, TypeVar

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"] | None

E = TypeVar("E", bound=Enum)


class MalformedPayload(ValueError):
    """A stored payload that does not fit its kind: a key missing, or a value of the wrong type."""


class Fields:
    """The keys of one JSON object; `maybe_*` and `flag` accept a key older rows lack."""

    def __init__(self, kind: str, data: object, where: str = "") -> None:
        self.kind = kind
        self.where = where  # the path inside the payload, for nested objects
        if not isinstance(data, dict):
            raise MalformedPayload(f"{kind}{where}: expected a JSON object, got {_show(data)}")
        self.data: dict[str, object] = data

    def _fail(self, key: str, expected: str, value: object) -> MalformedPayload:
        return MalformedPayload(
            f"{self.kind}{self.where}: {key!r} should be {expected}, got {_show(value)}"
        )

    def _present(self, key: str) -> object:
        if key not in self.data:
            raise MalformedPayload(f"{self.kind}{self.where}: {key!r} is missing")
        return self.data[key]

    def integer(self, key: str) -> int:
        value = self._present(key)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._fail(key, "an integer", value)
        return value

    def maybe_integer(self, key: str) -> int | None:
        value = self.data.get(key)
        return None if value is None else self.integer(key)

    def text(self, key: str) -> str:
        value = self._present(key)
        if not isinstance(value, str):
            raise self._fail(key, "a string", value)
        return value

    def maybe_text(self, key: str) -> str | None:
        value = self.data.get(key)
        return None if value is None else self.text(key)

    def flag(self, key: str) -> bool:
        """A flag older rows may lack: missing means false."""
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false", value)
        return value

    def member(self, key: str, enum: type[E]) -> E:
        value = self._present(key)
        return self._member(key, enum, value)

    def members(self, key: str, enum: type[E]) -> tuple[E, ...]:
        """A list of enum values; missing means none."""
        return tuple(self._member(key, enum, value) for value in self._list(key, default=True))

    def objects(self, key: str) -> list[Fields]:
        return [
            Fields(self.kind, value, f"{self.where}.{key}[{n}]")
            for n, value in enumerate(self._list(key, default=False))
        ]

    def _list(self, key: str, *, default: bool) -> list[object]:
        value = self.data.get(key) if default else self._present(key)
        if value is None and default:
            return []
        if not isinstance(value, list):
            raise self._fail(key, "a list", value)
        return value

    def _member(self, key: str, enum: type[E], value: object) -> E:
        try:
            return enum(value)
        except (ValueError, TypeError):
            raise self._fail(key, f"one of {[m.value for m in enum]}", value) from None


def _show(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."
