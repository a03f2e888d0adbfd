"""The cutter: never inside a tag or an entity, tags closed, "… and N more" counting right."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import escape
from html.parser import HTMLParser

import pytest

from core.fitting import (
    ALERT_LIMIT,
    ELLIPSIS,
    alert,
    clip,
    cut_html,
    fit_lines,
    fit_text,
    item_lines,
    label,
    more_line,
    size,
)
from core.i18n import create_i18n

ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|\w+);")
I18N = create_i18n("en")  # read once: the catalogs take a while to compile


@pytest.fixture(autouse=True)
def english() -> Iterator[None]:
    with I18N.context(), I18N.use_locale("en"):
        yield


class Balance(HTMLParser):
    """Fails on a tag cut in half or closed out of order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack}"
        self.stack.pop()


def assert_whole(html: str) -> None:
    """Every tag and entity in `html` complete, every tag closed."""
    parser = Balance()
    parser.feed(html)
    parser.close()
    assert parser.stack == []
    without_tags = re.sub(r"<[^<>]*>", "", html)
    assert "<" not in without_tags and ">" not in without_tags
    assert "&" not in ENTITY.sub("", without_tags), html


def test_size_counts_utf16_units_as_telegram_does() -> None:
    assert size("abc") == 3
    assert size("ё") == 1
    assert size("🟢") == 2  # outside the BMP: a surrogate pair


def test_a_text_within_the_limit_is_left_alone() -> None:
    text = "<b>Hello</b> &amp; bye"
    assert cut_html(text, len(text)) == text


@pytest.mark.parametrize("limit", range(1, 80))
def test_a_cut_never_falls_inside_a_tag_or_an_entity(limit: int) -> None:
    html = (
        "<b>Request &amp; more</b>\n<i>a &lt;tag&gt; name with &quot;quotes&quot;</i> "
        '<a href="https://example.org/?a=1&amp;b=2">link</a> &#x27;x&#39; tail'
    )
    cut = cut_html(html, limit)
    assert size(cut) <= limit or cut == ELLIPSIS
    assert cut.endswith(ELLIPSIS) or cut.endswith(">")
    assert_whole(cut)


def test_open_tags_are_closed_after_the_ellipsis() -> None:
    cut = cut_html("<b>" + "x" * 100 + "</b>", 20)
    assert cut == "<b>" + "x" * 12 + "…</b>"
    assert size(cut) == 20


def test_an_emoji_is_never_split() -> None:
    cut = cut_html("🟢" * 10, 6)
    assert cut == "🟢🟢…"


def test_clip_cuts_plain_text_before_it_is_escaped() -> None:
    assert clip("short", 10) == "short"
    clipped = clip("&" * 300, 30)
    assert clipped == "&" * 29 + "…"
    assert_whole(escape(clipped))  # escaping after the cut: no half entity possible
    assert size(alert("x" * 500)) == ALERT_LIMIT
    assert size(label("y" * 500)) <= 64


def test_fit_lines_says_how_many_were_left_out() -> None:
    lines = [f"line {n:02}" for n in range(1, 21)]  # 7 characters each
    kept = fit_lines(lines, 60)
    assert kept[-1] == more_line(20 - (len(kept) - 1))
    assert kept[:-1] == lines[: len(kept) - 1]
    assert size("\n".join(kept)) <= 60
    assert more_line(13) == "… and 13 more"


@pytest.mark.parametrize("budget", range(17, 200, 7))
def test_fit_lines_counts_right_at_every_budget(budget: int) -> None:
    lines = [f"• item {n}" for n in range(30)]
    kept = fit_lines(lines, budget)
    assert size("\n".join(kept)) <= budget
    shown = [line for line in kept if line.startswith("•")]
    assert shown == lines[: len(shown)]
    if len(shown) < len(lines):
        assert kept[-1] == more_line(len(lines) - len(shown))


def test_everything_that_fits_is_shown_whole() -> None:
    lines = ["a", "b", "c"]
    assert fit_lines(lines, 5) == lines


def test_a_single_line_too_long_alone_is_cut_not_dropped() -> None:
    kept = fit_lines(["<b>" + "z" * 500 + "</b>", "next"], 100)
    assert kept[1] == more_line(1)
    assert kept[0].startswith("<b>zzz") and kept[0].endswith("…</b>")
    assert size("\n".join(kept)) <= 100


def test_fit_text_keeps_head_and_tail_and_cuts_the_list() -> None:
    head, tail = "<b>Head</b>", "Tail &amp; end"
    text = fit_text(head, ["• " + "x" * 90] * 100, tail, limit=1000)
    assert text.startswith(head + "\n") and text.endswith("\n" + tail)
    assert size(text) <= 1000
    assert more_line(100 - text.count("•")) in text


def test_item_lines_narrow_names_before_leaving_lines_out() -> None:
    items = [{"name": "N" * 200, "quantity": 5, "unit": "pcs"} for _ in range(20)]
    text = item_lines(items, 3500)
    assert text.count("•") == 20  # every line, names narrowed
    assert "… and" not in text
    hostile = [{"name": '"' * 256, "quantity": 5, "unit": "&" * 16} for _ in range(20)]
    text = item_lines(hostile, 1500)
    assert size(text) <= 1500
    assert_whole(text)
    assert text.endswith(more_line(20 - text.count("•")))


def test_lines_never_offered_are_counted_too() -> None:
    assert fit_lines(["a", "b"], 100, hidden=5) == ["a", "b", more_line(5)]
    kept = fit_lines([f"line {n}" for n in range(20)], 40, hidden=30)
    assert kept[-1] == more_line(50 - (len(kept) - 1))
    assert size("\n".join(kept)) <= 40
