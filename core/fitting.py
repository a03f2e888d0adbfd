"""Texts that fit Telegram by construction: the limits, and the one way every screen, edit and
notification keeps within them.

Telegram refuses a message over 4,096 characters ("message is too long") and cuts an alert
over 200. It counts the visible text after parsing the HTML, in UTF-16 code units; we count
the HTML we send, tags and entities included, which is never less. A screen is a head, a list
and a tail: `fit_text` keeps the head and tail and as many list lines as fit, and says
"… and N more" for the rest; a long value is clipped (`clip`) before it is escaped, so a cut
never falls inside an entity; `cut_html` is the last resort for one text that is still too
long, and never cuts inside a tag or an entity and closes what it left open."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from html import escape
from typing import Any

from aiogram.utils.i18n import ngettext

MESSAGE_LIMIT = 4096  # sendMessage / editMessageText: text, 1-4096 characters
ALERT_LIMIT = 200  # answerCallbackQuery: text, 0-200 characters (plain text, no HTML)
DATA_LIMIT = 64  # InlineKeyboardButton.callback_data: 1-64 bytes
LABEL_LIMIT = 64  # a button's text: no written limit; a longer label is cut on screen anyway
NAME_LIMIT = 256  # the longest item name the import takes; also people's names on screens
PERSON_LIMIT = 64  # a person's name in a list row (Telegram allows 64 + 64)
REASON_LIMIT = 120  # a reason quoted in a list row; the screen of the one entry shows it whole
ROW_LIMIT = 700  # one row of a page of five: five rows and the page's head fit one message
ELLIPSIS = "…"
MIN_CUT = 40  # a first line is cut to fit only if this much of it can show, else counted

# What a stored name is shown at, widest first, when a list of them would not fit whole.
NAME_WIDTHS = (NAME_LIMIT, 120, 60, 30)

_TOKEN = re.compile(r"<[^<>]*>|&(?:#\d+|#x[0-9a-fA-F]+|\w+);|[^<&]+|[<&]")
_TAG_NAME = re.compile(r"</?\s*([a-zA-Z][\w-]*)")


def size(text: str) -> int:
    """How long Telegram finds `text`: UTF-16 code units (an emoji outside the BMP is two)."""
    return len(text.encode("utf-16-le")) // 2


def clip(value: str, limit: int) -> str:
    """Plain text (not yet escaped) of at most `limit` units, ending in "…" when it was cut."""
    if size(value) <= limit:
        return value
    kept = _prefix(value, limit - size(ELLIPSIS))
    return kept.rstrip() + ELLIPSIS


def label(text: str) -> str:
    """A button's text: a stored name can be 256 characters, a button shows far fewer."""
    return clip(text, LABEL_LIMIT)


def alert(text: str) -> str:
    """A callback answer or alert (plain text) within Telegram's 200 characters."""
    return clip(text, ALERT_LIMIT)


def more_line(count: int) -> str:
    """The line that stands for `count` list lines left out."""
    return ngettext("… and {count} more", "… and {count} more", count).format(count=count)


def cut_html(html: str, limit: int = MESSAGE_LIMIT) -> str:
    """`html` cut to at most `limit` units with "…": never inside a tag or an entity, and
    every tag the kept part opened closed again."""
    if size(html) <= limit:
        return html
    out: list[str] = []
    used = 0
    open_tags: list[str] = []

    def closing(tags: list[str]) -> int:
        return sum(len(name) + 3 for name in tags)

    for token in _TOKEN.findall(html):
        if token.startswith("<") and len(token) > 1:
            name_match = _TAG_NAME.match(token)
            name = name_match.group(1).lower() if name_match else ""
            after = list(open_tags)
            if token.startswith("</"):
                if name in after:
                    del after[len(after) - 1 - after[::-1].index(name)]
            elif name and not token.endswith("/>"):
                after.append(name)
            if used + size(token) + size(ELLIPSIS) + closing(after) > limit:
                break
            out.append(token)
            used += size(token)
            open_tags = after
            continue
        room = limit - used - size(ELLIPSIS) - closing(open_tags)
        if token.startswith("&") or len(token) == 1:
            if size(token) > room:
                break
            out.append(token)
            used += size(token)
            continue
        piece = _prefix(token, room)
        out.append(piece)
        used += size(piece)
        if piece != token:
            break
    closers = "".join(f"</{name}>" for name in reversed(open_tags))
    return "".join(out).rstrip() + ELLIPSIS + closers


def fit_lines(
    lines: Sequence[str],
    budget: int,
    *,
    sep: str = "\n",
    more: Callable[[int], str] = more_line,
    hidden: int = 0,
) -> list[str]:
    """The leading `lines` that fit in `budget` units joined by `sep`, and for the rest one
    "… and N more" line, which also counts `hidden` lines never offered (a list shown only
    in part). A first line too long alone is cut (`cut_html`), not left out."""
    kept: list[str] = []
    used = 0
    # what lines[i:] take joined: once the rest fits whole, no "… and N more" is needed
    rest_sizes = [0] * (len(lines) + 1)
    for index in range(len(lines) - 1, -1, -1):
        rest_sizes[index] = size(lines[index]) + rest_sizes[index + 1] + size(sep)
    tail = [more(hidden)] if hidden else []
    tail_size = size(sep) + size(tail[0]) if tail else 0
    for index, line in enumerate(lines):
        if used + rest_sizes[index] - (0 if kept else size(sep)) + tail_size <= budget:
            return [*kept, *lines[index:], *tail]
        rest = len(lines) - index - 1 + hidden
        reserve = size(sep) + size(more(rest)) if rest else 0
        cost = size(line) + (size(sep) if kept else 0)
        if used + cost + reserve <= budget:
            kept.append(line)
            used += cost
            continue
        if not kept and budget - reserve >= MIN_CUT:
            kept.append(cut_html(line, budget - reserve))
            if rest:
                kept.append(more(rest))
            return kept
        dropped = len(lines) - len(kept) + hidden
        if used + (size(sep) if kept else 0) + size(more(dropped)) <= budget:
            kept.append(more(dropped))
        return kept
    return [*kept, *tail]


def fit_text(
    head: str,
    lines: Sequence[str],
    tail: str = "",
    *,
    sep: str = "\n",
    limit: int = MESSAGE_LIMIT,
) -> str:
    """A screen: `head`, then as many of `lines` as fit, then `tail`, within `limit`. The head
    and tail are kept whole while they leave any room; a list that does not fit ends in
    "… and N more"."""
    parts = [p for p in (head, tail) if p]
    fixed = sum(size(p) for p in parts) + size(sep) * len(parts)
    shown = fit_lines(lines, limit - fixed, sep=sep) if lines else []
    text = sep.join([*([head] if head else []), *shown, *([tail] if tail else [])])
    return cut_html(text, limit)


def item_lines(items: Iterable[Mapping[str, Any]], budget: int = MESSAGE_LIMIT) -> str:
    """A request's lines ("• name: 3 pcs"), each on its own line, within `budget`: names are
    shown whole while all lines fit, else narrower, and only then lines are left out."""
    rows = list(items)
    lines: list[str] = []
    for width in NAME_WIDTHS:
        lines = [
            f"• {escape(clip(str(i['name']), width))}: {i['quantity']} "
            f"{escape(clip(str(i['unit']), 16))}"
            for i in rows
        ]
        if size("\n".join(lines)) <= budget:
            return "\n".join(lines)
    return "\n".join(fit_lines(lines, budget))


def _prefix(text: str, units: int) -> str:
    """The longest start of `text` of at most `units` UTF-16 units."""
    if units <= 0:
        return ""
    total = 0
    for index, char in enumerate(text):
        total += 2 if ord(char) > 0xFFFF else 1
        if total > units:
            return text[:index]
    return text
