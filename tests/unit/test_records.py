"""utils/records.py: frozen dataclasses as stored JSON, written by field and read strictly."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import pytest

from utils.records import WRITTEN_WHEN_SET, Unreadable, dump, load


class Colour(StrEnum):
    RED = "red"
    BLUE = "blue"


@dataclass(frozen=True)
class Line:
    name: str
    count: int


@dataclass(frozen=True)
class Record:
    id: int
    colour: Colour = field(metadata={"key": "kind"})
    note: str | None
    lines: tuple[Line, ...]
    pairs: tuple[tuple[int, str], ...]
    gone: bool
    urgent: bool = field(default=False, metadata=WRITTEN_WHEN_SET)
    tags: tuple[Colour, ...] = ()


FULL = Record(7, Colour.RED, None, (Line("a", 2),), ((1, "x"),), gone=True, urgent=True)
STORED = {
    "id": 7,
    "kind": "red",
    "note": None,
    "lines": [{"name": "a", "count": 2}],
    "pairs": [[1, "x"]],
    "gone": True,
    "urgent": True,
    "tags": [],
}


def test_written_in_field_order_under_their_keys_and_read_back() -> None:
    assert dump(FULL) == STORED
    assert list(dump(FULL)) == list(STORED)  # the order rows were always written in
    assert load(Record, STORED, "record") == FULL


def test_a_flag_written_only_when_set_and_what_older_rows_lack() -> None:
    plain = Record(1, Colour.BLUE, "n", (), (), gone=False)
    assert "urgent" not in dump(plain)
    older = {"id": 1, "kind": "blue", "lines": [], "pairs": []}  # no note, flags or tags
    assert load(Record, older, "record") == Record(1, Colour.BLUE, None, (), (), gone=False)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": True}, "record: 'id' should be an integer, got True"),
        ({"id": "7"}, "record: 'id' should be an integer, got '7'"),
        ({"kind": "green"}, "record: 'kind' should be one of ['red', 'blue'], got 'green'"),
        ({"note": 5}, "record: 'note' should be a string, got 5"),
        ({"gone": "yes"}, "record: 'gone' should be true or false, got 'yes'"),
        ({"lines": None}, "record: 'lines' should be a list, got None"),
        ({"lines": [{"name": "a"}]}, "record.lines[0]: 'count' is missing"),
        ({"pairs": [[1]]}, "record: 'pairs' should be a list of 2, got [1]"),
        ({"pairs": [[1, 2]]}, "record: 'pairs' should be a string, got 2"),
    ],
)
def test_what_does_not_fit_is_named(change: dict[str, object], message: str) -> None:
    with pytest.raises(Unreadable) as raised:
        load(Record, {**STORED, **change}, "record")
    assert str(raised.value) == message


def test_a_missing_key_and_a_non_object_are_refused() -> None:
    without_id = {k: v for k, v in STORED.items() if k != "id"}
    with pytest.raises(Unreadable, match="record: 'id' is missing"):
        load(Record, without_id, "record")
    with pytest.raises(Unreadable, match=r"record: expected a JSON object, got \[\]"):
        load(Record, [], "record")
