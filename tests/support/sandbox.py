"""The sandbox in the test's own event loop, on a free port, with its data in tmp_path."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

from aiogram.utils.i18n import I18n

from core.settings import Settings
from simulators.sandbox.main import Options, open_sandbox
from simulators.sandbox.world import Sandbox


@contextlib.asynccontextmanager
async def sandbox_in(data_dir: Path, *, demo: bool = True) -> AsyncIterator[Sandbox]:
    # The tests click faster than a person; the flood control has its own tests.
    base = Settings(throttle={"burst": 1_000_000}, _env_file=None)  # type: ignore[call-arg,arg-type]
    async with open_sandbox(base, Options(port=0, data_dir=data_dir, demo=demo)) as sandbox:
        yield sandbox


def translate(i18n: I18n, locale: str, msgid: str) -> str:
    with i18n.context(), i18n.use_locale(locale):
        return i18n.gettext(msgid)
