"""The whole request walk, pressing buttons by their translated labels, in each language."""

from __future__ import annotations

import pytest
from aiogram.utils.i18n import gettext as _

from core.enums import Role
from tests.conftest import World
from tests.factories import person, stock


@pytest.mark.parametrize("language", ["en", "ru", "es"])
async def test_a_request_from_start_to_completion_in_each_language(
    world: World, language: str
) -> None:
    i18n = world.app.i18n

    def tr(message: str, **params: object) -> str:
        with i18n.context(), i18n.use_locale(language):
            return _(message).format(**params)

    await stock(world, ("P-1", "Paper", 10))
    await person(world, 201, Role.MANAGER)
    await person(world, 301, Role.STOREKEEPER)
    ann = world.client(101, "Ann", language_code=language)
    manager = world.client(201, "Max", language_code=language)
    keeper = world.client(301, "Kim", language_code=language)
    for client in (manager, keeper):
        await client.send("/start")

    await ann.send("/start")
    assert ann.last_reply().startswith(
        tr(
            "Hello, {name}! You are registered. Your roles: {roles}.",
            name="Ann",
            roles=tr("requester"),
        )
    )
    await ann.send("/new_request")
    assert ann.last_reply() == tr("Choose an item (page {page} of {pages}):", page=1, pages=1)
    assert ann.buttons() == ["Paper (10 pcs)", tr("Cancel")]
    await ann.click("Paper (10 pcs)")
    await ann.send("4")
    assert ann.last_reply() == tr("Your request so far:") + "\n• Paper: 4 pcs"
    await ann.click(tr("Submit request"))
    stage = world.app.workflows.default.stages[0].display(language)
    assert ann.last_reply().endswith(
        tr(
            "Request #{request_id} is submitted. It is now at {stage}, with {assignee}.",
            request_id=1,
            stage=stage,
            assignee="Max",
        )
    )
    await world.deliver()
    await manager.click(tr("Approve"))
    await world.deliver()
    await keeper.click(tr("Approve"))
    await world.deliver()
    assert ann.inbox()[-1] == tr(
        "Request #{request_id} is completed: the items were issued to you.", request_id=1
    )
    await ann.send("/my_requests")
    assert ann.last_reply().startswith(
        tr("Your requests (page {page} of {pages}):", page=1, pages=1)
    )
    assert tr("completed") in ann.last_reply()
    if language != "en":  # really translated, not the English text passed through
        assert tr("Submit request") != "Submit request"
        assert tr("Approve") != "Approve"
