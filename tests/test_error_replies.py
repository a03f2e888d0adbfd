"""Whatever breaks, the person gets a short reply in their language and buttons stop spinning."""

from __future__ import annotations

from typing import Any

import pytest
from aiogram.methods import SendMessage

from tests.conftest import World


def explode(*_args: Any, **_kwargs: Any) -> Any:
    raise RuntimeError("secret internal detail: password=hunter2")


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Something went wrong on our side. Please try again later."),
        ("ru", None),
        ("es", None),
    ],
)
async def test_unexpected_failure_gets_a_friendly_reply(
    world: World, monkeypatch: pytest.MonkeyPatch, language: str, expected: str | None
) -> None:
    monkeypatch.setattr(world.app.requests, "for_requester", explode)
    ann = world.client(1, language_code=language)
    await ann.send("/my_requests")
    reply = ann.last_reply()
    with world.app.i18n.context(), world.app.i18n.use_locale(language):
        from aiogram.utils.i18n import gettext as _

        translated = _("Something went wrong on our side. Please try again later.")
    assert reply == (expected or translated)
    if language != "en":
        assert reply != "Something went wrong on our side. Please try again later."
    assert "hunter2" not in reply and "RuntimeError" not in reply


async def test_failed_button_press_is_answered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    ann = world.client(1)
    await ann.send("/language")
    monkeypatch.setattr(world.app.users, "set_language", explode)
    await ann.click("Español")
    [answer] = ann.callback_answers()
    assert answer.text == "Something went wrong on our side. Please try again later."
    assert not [c for c in world.session.calls[-1:] if isinstance(c, SendMessage)]
