"""Gettext catalogs from `locales/<lang>/LC_MESSAGES/messages.po`, compiled in memory on start.

Keeping only the `.po` sources in the repo means there is no compiled file to forget to rebuild.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiogram.utils.i18n import I18n
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from core.messages import N_, Msg
from core.settings import LOCALES_DIR, SUPPORTED_LOCALES

__all__ = ["DOMAIN", "N_", "Msg", "PoI18n", "create_i18n", "pick_locale", "render"]

DOMAIN = "messages"


def render(message: str, params: dict[str, object]) -> str:
    """Translate `message` in the current locale and fill in its (translated) parameters."""
    from aiogram.utils.i18n import gettext as _

    values = {k: _(v) if isinstance(v, Msg) else v for k, v in params.items()}
    return _(message).format(**values) if values else _(message)


def po_path(locale: str, root: Path = LOCALES_DIR) -> Path:
    return root / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


class PoI18n(I18n):
    """aiogram's I18n, reading `.po` catalogs instead of compiled `.mo` files."""

    @contextmanager
    def context(self) -> Iterator[I18n]:
        # aiogram's gettext looks up I18n's context variable; a subclass gets its own.
        token = I18n.set_current(self)
        try:
            yield self
        finally:
            I18n.reset_current(token)

    def find_locales(self) -> dict[str, gettext.GNUTranslations]:
        translations: dict[str, gettext.GNUTranslations] = {}
        for locale in SUPPORTED_LOCALES:
            path = po_path(locale, self.path)
            with path.open("rb") as fp:
                catalog = read_po(fp, locale=locale)
            buffer = io.BytesIO()
            write_mo(buffer, catalog)
            buffer.seek(0)
            translations[locale] = gettext.GNUTranslations(buffer)
        return translations


def create_i18n(default_locale: str, path: Path = LOCALES_DIR) -> PoI18n:
    return PoI18n(path=path, default_locale=default_locale, domain=DOMAIN)


def pick_locale(saved: str | None, telegram: str | None, default: str) -> str:
    """The user's saved choice, else Telegram's language_code (`pt-br` -> `pt`), else default."""
    if saved in SUPPORTED_LOCALES:
        return saved
    if telegram:
        base = telegram.replace("_", "-").split("-")[0].lower()
        if base in SUPPORTED_LOCALES:
            return base
    return default
