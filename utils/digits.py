"""Whole numbers as people and files write them: ASCII digits 0-9 and nothing else.

`str.isdecimal()` and `int()` take more than a person means by "12": other scripts' digits
("١٢", "１２"), "1_000", "+5", " 7 ". Checked here, once, and bounded before `int()` runs, so a
line of 5,000 digits costs nothing and raises nothing."""

from __future__ import annotations

import re

INT_MAX = 2**31 - 1  # PostgreSQL's integer: every id, version, stock and quantity column
_DIGITS = re.compile(r"[0-9]+")  # a range, not \d: ASCII only


def is_digits(text: str) -> bool:
    return _DIGITS.fullmatch(text) is not None


def whole_number(text: str, maximum: int) -> int | None:
    """`text` as a number 0…`maximum` if it is ASCII digits only, else None."""
    if not is_digits(text) or len(text.lstrip("0")) > len(str(maximum)):
        return None
    value = int(text)
    return value if value <= maximum else None
