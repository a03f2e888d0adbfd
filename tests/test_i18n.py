"""Languages: catalogs complete, the locale chosen right, and people reading their own language."""

from __future__ import annotations

from aiogram.methods import SetMyCommands
from sqlalchemy import select

from bot.commands import set_commands
from core.enums import Role
from core.i18n import pick_locale
from database.models import User
from simulators.catalogs import problems
from tests.conftest import World
from tests.factories import person, stock
from tests.support.client import strip_reference


def test_every_message_the_code_uses_is_translated_in_every_catalog() -> None:
    assert problems() == []


def test_locale_is_saved_choice_then_telegram_then_default() -> None:
    assert pick_locale("es", "ru", "en") == "es"
    assert pick_locale(None, "ru", "en") == "ru"
    assert pick_locale(None, "es-MX", "en") == "es"
    assert pick_locale(None, "pt-BR", "en") == "en"
    assert pick_locale(None, None, "ru") == "ru"
    assert pick_locale("xx", "de", "en") == "en"


async def test_telegram_language_is_used_until_the_user_picks_one(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    ivan = world.client(7, "Ivan", language_code="ru")
    await ivan.send("/new_request")
    assert ivan.last_reply() == "Выберите товар (страница 1 из 1):"
    await ivan.click("Paper (10 pcs)")
    await ivan.send("0")
    assert ivan.last_reply() == "Количество должно быть не меньше 1."

    await ivan.send("/language")
    await ivan.click("Español")
    assert ivan.last_reply() == "Idioma configurado: Español."
    async with world.app.sessionmaker() as session:
        user = (await session.execute(select(User).where(User.telegram_id == 7))).scalar_one()
    assert user.language == "es"
    await ivan.send("/new_request")
    assert ivan.last_reply() == "Elige un artículo (página 1 de 1):"


async def test_forged_language_button_is_refused(world: World) -> None:
    ann = world.client(8)
    await ann.send("/language")
    message = ann.find_button_message("English")
    await ann.press(message, "lg:de")
    assert ann.callback_answers()[0].text == "This language is not available."


async def test_notifications_are_rendered_in_the_recipients_language(world: World) -> None:
    """Written once; each person reads it in their own language, decided at send time."""
    await stock(world, ("P-1", "Paper", 10))
    await person(world, 21, Role.MANAGER)
    await person(world, 22, Role.MANAGER)
    await world.client(21, "Olga", language_code="ru").send("/start")
    await world.client(22, "Pablo", language_code="es").send("/start")
    ann = world.client(1, "Ann", language_code="en")
    await ann.send("/new_request")
    await ann.click("Paper (10 pcs)")
    await ann.send("2")
    await ann.click("Submit request")
    await world.deliver()
    olga, pablo = world.client(21), world.client(22)
    assert olga.inbox()[-1] == (
        "Заявка #1 от Ann ждёт вашего решения (этап «Согласование руководителем»):\n• Paper: 2 pcs"
    )
    assert pablo.inbox()[-1] == (
        "La solicitud #1 de Ann espera tu decisión (Aprobación del gerente):\n• Paper: 2 pcs"
    )
    assert olga.buttons() == ["Одобрить", "Отклонить"]
    assert pablo.buttons() == ["Aprobar", "Rechazar"]


async def test_the_same_domain_error_reads_in_each_language(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10))
    await person(world, 21, Role.MANAGER)
    ann = world.client(1, "Ann")
    await ann.send("/new_request")
    await ann.click("Paper (10 pcs)")
    await ann.send("1")
    await ann.click("Submit request")
    await world.deliver()
    message = world.client(21).find_button_message("Approve")
    expected = {
        "en": "Only someone with the manager role can decide on this stage.",
        "ru": "Решение на этом этапе может принять только руководитель.",
        "es": "Solo alguien con el rol gerente puede decidir en esta etapa.",
    }
    for i, (language, text) in enumerate(expected.items()):
        stranger = world.client(50 + i, language_code=language)
        await stranger.press(
            message, str(message.reply_markup.inline_keyboard[0][0].callback_data)
        )  # type: ignore[union-attr]
        assert strip_reference(stranger.callback_answers()[0].text) == text


async def test_commands_are_registered_per_language(world: World) -> None:
    await set_commands(world.bot, world.app.i18n)
    calls = world.session.calls_of(SetMyCommands)
    assert [c.language_code for c in calls] == [None, "en", "ru", "es"]
    by_language = {c.language_code: {x.command: x.description for x in c.commands} for c in calls}
    assert set(by_language["ru"]) == {"new_request", "my_requests", "language", "help", "cancel"}
    assert by_language["en"]["new_request"] == "Ask for items from the warehouse"
    assert by_language["ru"]["new_request"] != by_language["en"]["new_request"]
    assert by_language["es"]["cancel"] != by_language["en"]["cancel"]
