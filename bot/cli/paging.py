"""`--limit` / `--offset` for every list on the command line, and the line saying how many."""

from __future__ import annotations

import argparse

SCREENFUL = 20


def add_paging(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--limit", type=positive, default=SCREENFUL, help=f"rows to show (default {SCREENFUL})"
    )
    parser.add_argument(
        "--offset", type=non_negative, default=0, help="rows to skip first (default 0)"
    )


def footer(offset: int, shown: int, total: int) -> str:
    """The last line of a list: which rows these are of how many in all, and the next page."""
    if not shown:
        return f"nothing from --offset {offset}; {total} in all"
    line = f"{offset + 1}-{offset + shown} of {total} in all"
    if offset + shown < total:
        line += f"; next: --offset {offset + shown}"
    return line


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value
