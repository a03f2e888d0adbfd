"""Keeping the gettext catalogs in step with the code.

`python -m simulators.catalogs update` extracts every marked message (`_`, `__`, `N_`,
gettext, ngettext) from the product's packages (not the simulators: nothing a person reads of
the bot lives there), writes `locales/messages.pot` and merges it into each language's `.po`
file (English gets msgstr = msgid). `python -m simulators.catalogs check` lists what is missing
or untranslated; the test suite runs the same check.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

from core.i18n import po_path
from core.settings import LOCALES_DIR, PROJECT_ROOT, SUPPORTED_LOCALES

PACKAGES = ("bot", "core", "database", "handlers", "middlewares", "outbox", "services", "utils")
KEYWORDS = {**DEFAULT_KEYWORDS, "__": None}


def extract() -> Catalog:
    catalog = Catalog(project="workflow-recovery-bot", charset="utf-8")
    for package in PACKAGES:
        folder = PROJECT_ROOT / package
        if not folder.is_dir():
            continue
        for filename, lineno, message, comments, context in extract_from_dir(
            str(folder), method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            catalog.add(
                message,
                None,
                [(f"{package}/{filename}", lineno)],
                auto_comments=comments,
                context=context,
            )
    return catalog


def read(locale: str, root: Path = LOCALES_DIR) -> Catalog:
    with po_path(locale, root).open("rb") as fp:
        return read_po(fp, locale=locale)


def update(root: Path = LOCALES_DIR) -> None:
    template = extract()
    with (root / "messages.pot").open("wb") as fp:
        write_po(fp, template, width=99, omit_header=True)
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale, root)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read(locale, root) if path.exists() else Catalog(locale=locale)
        # A fresh template each time: Catalog.update shares Message objects with it.
        catalog.update(extract(), no_fuzzy_matching=True)
        catalog.obsolete.clear()
        catalog.project, catalog.fuzzy = "workflow-recovery-bot", False
        if locale == "en":
            for message in catalog:
                # A plural's string is a tuple of forms, empty forms and all: test each.
                string = message.string
                strings = string if isinstance(string, tuple) else (string,)
                if message.id and not all(strings):
                    message.string = message.id
        with path.open("wb") as fp:
            write_po(fp, catalog, width=99, omit_header=False)


def problems(root: Path = LOCALES_DIR) -> list[str]:
    """Every message the code uses that a catalog misses, leaves empty or marks fuzzy."""
    found = []
    template = extract()
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale, root)
        if not path.exists():
            found.append(f"{locale}: {path} is missing")
            continue
        catalog = read(locale, root)
        for message in template:
            if not message.id:
                continue
            entry = catalog.get(message.id, context=message.context)
            strings = entry.string if entry else None
            values = strings if isinstance(strings, tuple) else (strings,)
            if entry is None:
                found.append(f"{locale}: missing {message.id!r}")
            elif not all(values):
                found.append(f"{locale}: empty translation of {message.id!r}")
            elif entry.fuzzy:
                found.append(f"{locale}: fuzzy translation of {message.id!r}")
    return found


def main(argv: list[str]) -> int:
    if argv[:1] == ["update"]:
        update()
        return 0
    if argv[:1] == ["check"]:
        issues = problems()
        print("\n".join(issues) or "every catalog is complete")
        return 1 if issues else 0
    print("usage: python -m simulators.catalogs update|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
