"""The "Notification retries" section, walked by pressing buttons as admin and as support."""

from __future__ import annotations

from aiogram.exceptions import TelegramForbiddenError, TelegramServerError
from aiogram.methods import SendMessage
from sqlalchemy import select

from core.enums import DeadReason, NotificationStatus, Role
from database.models import PendingNotification, TransactionLog, User
from handlers.admin.callbacks import NotificationAction, NotificationsMenu, notifications_home_data
from outbox.payloads import RequestCompleted
from outbox.repository import enqueue
from tests.conftest import ADMIN_TG_ID, World

SUPPORT_TG_ID = 901


async def write(world: World, telegram_id: int, key: str) -> None:
    user = await world.app.users.grant(telegram_id, Role.REQUESTER)
    async with world.app.sessionmaker() as session, session.begin():
        await enqueue(
            session,
            recipient_id=user.id,
            payload=RequestCompleted(request_id=telegram_id, workflow="inventory_request"),
            idempotency_key=key,
            now=world.app.clock.now(),
        )


async def rows(world: World) -> list[PendingNotification]:
    async with world.app.sessionmaker() as session:
        found = await session.execute(select(PendingNotification).order_by(PendingNotification.id))
        return list(found.unique().scalars())


async def audit(world: World) -> list[tuple[str, int | None]]:
    async with world.app.sessionmaker() as session:
        found = await session.execute(
            select(TransactionLog)
            .where(TransactionLog.entity == "notification")
            .order_by(TransactionLog.id)
        )
        return [(r.operation, r.actor_id) for r in found.scalars()]


async def user_id(world: World, telegram_id: int) -> int:
    async with world.app.sessionmaker() as session:
        found = await session.scalar(select(User.id).where(User.telegram_id == telegram_id))
        assert found is not None
        return found


def blocked() -> TelegramForbiddenError:
    return TelegramForbiddenError(
        method=SendMessage(chat_id=1, text="x"), message="Forbidden: bot was blocked by the user"
    )


def bad_gateway() -> TelegramServerError:
    return TelegramServerError(method=SendMessage(chat_id=1, text="x"), message="Bad Gateway")


async def one_dead_one_retrying(world: World) -> None:
    await write(world, 77, "a")
    await write(world, 78, "b")
    world.session.queue(blocked())
    world.session.queue(bad_gateway())
    await world.deliver()


async def test_admin_retries_a_dead_row_and_sees_it_delivered(world: World) -> None:
    await one_dead_one_retrying(world)
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    assert admin.last_reply() == ("<b>Notification retries</b>\nWaiting: 0\nRetrying: 1\nDead: 1")
    assert admin.buttons() == ["Waiting (0)", "Retrying (1)", "Dead (1)", "« Back"]
    await admin.click("Dead (1)")
    reply = admin.last_reply()
    assert reply.startswith("<b>Dead</b>: 1, page 1 of 1\n\n#1 to ")
    assert "(77), request_completed\nattempts: 1\nreason: blocked\n" in reply
    assert "last error: TelegramForbiddenError: Telegram server says - Forbidden: bot was" in reply
    await admin.click("#1")
    assert admin.buttons() == ["Retry now", "Discard", "« List"]
    await admin.click("Retry now")
    assert admin.last_reply().startswith("Retry notification #1 now?\n\n#1 to ")
    assert admin.buttons() == ["Yes, retry", "« Back"]
    await admin.click("Yes, retry")
    assert admin.last_reply().startswith("Delivered.\n\n#1 to ")
    first, _ = await rows(world)
    assert (first.status, first.dead_reason) == (NotificationStatus.SENT, None)
    assert world.session.calls_of(SendMessage)[-1].chat_id == 77
    assert await audit(world) == [("retry_notification", await user_id(world, ADMIN_TG_ID))]


async def test_retry_that_fails_again_says_why(world: World) -> None:
    await one_dead_one_retrying(world)
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Retrying (1)")
    await admin.click("#2")
    await admin.click("Retry now")
    world.session.queue(bad_gateway())
    await admin.click("Yes, retry")
    assert admin.last_reply().startswith(
        "Not delivered: TelegramServerError: Telegram server says - Bad Gateway\n\n#2 to "
    )
    _, second = await rows(world)
    assert (second.status, second.attempts) == (NotificationStatus.RETRYING, 1)


async def test_admin_discards_with_a_preset_reason(world: World) -> None:
    await one_dead_one_retrying(world)
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Dead (1)")
    await admin.click("#1")
    await admin.click("Discard")
    assert admin.last_reply() == "Discard notification #1? Choose a reason."
    await admin.click("Sent another way")
    assert admin.last_reply().startswith("Notification #1 discarded.\n\n<b>Dead</b>: 0")
    first, _ = await rows(world)
    admin_id = await user_id(world, ADMIN_TG_ID)
    assert (first.status, first.discard_reason, first.discarded_by_id) == (
        NotificationStatus.DISCARDED,
        "Sent another way",
        admin_id,
    )
    assert await audit(world) == [("discard_notification", admin_id)]


async def test_admin_discards_with_a_typed_reason(world: World) -> None:
    await one_dead_one_retrying(world)
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Dead (1)")
    await admin.click("#1")
    await admin.click("Discard")
    await admin.click("Type a reason")
    assert admin.last_reply() == "Send the reason for discarding, or /cancel."
    await admin.send("   ")  # refused: the step stays open for a real reason
    assert admin.last_reply() == "Please give a reason for discarding."
    await admin.send("Left the company")
    assert admin.last_reply().startswith("1 notifications discarded.")
    first, _ = await rows(world)
    assert first.discard_reason == "Left the company"


async def test_support_may_retry_but_not_discard(world: World) -> None:
    await one_dead_one_retrying(world)
    await world.app.users.grant(SUPPORT_TG_ID, Role.SUPPORT)
    support = world.client(SUPPORT_TG_ID)
    await support.send("/notifications")
    await support.click("Dead (1)")
    assert "Discard all" not in support.buttons()
    await support.click("#1")
    assert support.buttons() == ["Retry now", "« List"]
    message = support.find_button_message("Retry now")
    forged = NotificationsMenu(
        action=NotificationAction.DISCARD_ASK, status="dead", row_id=1
    ).pack()
    await support.press(message, forged)
    [answer] = support.callback_answers()
    assert answer.show_alert and answer.text is not None
    assert answer.text.startswith("Only admins can discard notifications.\nReference: E-")
    first, _ = await rows(world)
    assert first.status is NotificationStatus.DEAD
    await support.click_on(message, "Retry now")
    await support.click("Yes, retry")
    assert support.last_reply().startswith("Delivered.")


async def test_bulk_retry_covers_exactly_the_preview(world: World) -> None:
    for n in range(3):
        await write(world, 80 + n, f"k{n}")
        world.session.queue(blocked())
    await world.deliver()
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Dead (3)")
    await admin.click("Retry all")
    assert admin.last_reply() == "Retry all 3 in “Dead” now?"
    await admin.click("Yes, retry 3")
    assert admin.last_reply().startswith("Delivered 3 of 3; the rest stay in the queue.")
    assert {r.status for r in await rows(world)} == {NotificationStatus.SENT}


async def test_bulk_discard_refuses_when_the_list_changed(world: World) -> None:
    for n in range(2):
        await write(world, 80 + n, f"k{n}")
        world.session.queue(blocked())
    await world.deliver()
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Dead (2)")
    await admin.click("Discard all")
    assert admin.last_reply() == "Discard all 2 in “Dead”? Choose a reason."
    # Meanwhile one row is retried elsewhere and delivered.
    await world.app.notifications.retry([1], None)
    await admin.click("Outdated: the request has moved on")
    [answer] = admin.callback_answers()
    assert answer.text == "The list changed since the preview (1 now). Open it again."
    assert [r.status for r in await rows(world)] == [
        NotificationStatus.SENT,
        NotificationStatus.DEAD,
    ]


async def test_forged_buttons_do_nothing_and_say_why(world: World) -> None:
    await one_dead_one_retrying(world)
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    message = admin.find_button_message("Dead (1)")
    cases = [
        (NotificationsMenu(action=NotificationAction.LIST, status="sent"), "Unknown list: sent."),
        (
            NotificationsMenu(action=NotificationAction.RETRY, status="dead", row_id=999),
            "Notification #999 does not exist.",
        ),
    ]
    for data, text in cases:
        await admin.press(message, data.pack())
        [answer] = admin.callback_answers()
        assert answer.text == text
    await admin.press(message, "nq:zz:dead:0:0:0:0:0")
    [answer] = admin.callback_answers()
    assert answer.text is not None and answer.text.startswith("This button is no longer active")
    requester = world.client(77)
    await requester.press(message, notifications_home_data())
    [answer] = requester.callback_answers()
    assert answer.text is not None
    assert answer.text.startswith("Only admins and support can manage notifications.")
    first, second = await rows(world)
    assert (first.status, second.status) == (NotificationStatus.DEAD, NotificationStatus.RETRYING)
    assert await audit(world) == []


async def test_home_is_reachable_from_the_main_menu_data(world: World) -> None:
    await one_dead_one_retrying(world)
    admin = world.client(ADMIN_TG_ID)
    await admin.send("/notifications")
    await admin.click("Dead (1)")
    await admin.click("« Notifications")
    assert admin.last_reply().startswith("<b>Notification retries</b>")
    message = admin.find_button_message("« Back")
    await admin.press(message, notifications_home_data())
    assert admin.last_reply().startswith("<b>Notification retries</b>")
    assert notifications_home_data() == "nq:h::0:0:0:0:0"


async def test_blocked_user_stays_active(world: World) -> None:
    await one_dead_one_retrying(world)
    async with world.app.sessionmaker() as session:
        user = await session.scalar(select(User).where(User.telegram_id == 77))
    assert user is not None and user.is_active and user.unreachable_since is not None
    first, _ = await rows(world)
    assert first.dead_reason is DeadReason.BLOCKED


async def test_the_section_speaks_russian_and_spanish(world: World) -> None:
    await one_dead_one_retrying(world)
    await world.app.users.grant(SUPPORT_TG_ID, Role.SUPPORT)
    admin = world.client(ADMIN_TG_ID, language_code="ru")
    await admin.send("/notifications")
    assert admin.last_reply() == (
        "<b>Повторная отправка уведомлений</b>\nОжидают: 0\nПовторяются: 1\nНе доставлены: 1"
    )
    await admin.click("Не доставлены (1)")
    await admin.click("#1")
    assert admin.buttons() == ["Повторить сейчас", "Отменить", "« Список"]
    await admin.click("Повторить сейчас")
    assert admin.last_reply().startswith("Повторить уведомление #1 сейчас?\n\n#1 для ")
    await admin.click("Да, повторить")
    assert admin.last_reply().startswith("Доставлено.\n\n#1 для ")
    support = world.client(SUPPORT_TG_ID, language_code="es")
    await support.send("/notifications")
    await support.click("Reintentando (1)")
    assert support.last_reply().startswith("<b>Reintentando</b>: 1, página 1 de 1\n\n#2 para ")
    assert support.buttons() == ["#2", "Reintentar todas", "« Notificaciones"]
    await support.click("Reintentar todas")
    assert support.last_reply() == "¿Reintentar ahora las 1 de «Reintentando»?"
    await support.click("Sí, reintentar 1")
    assert support.last_reply() == (
        "Entregada.\n\n<b>Reintentando</b>: 0, página 1 de 1\n\nNo hay nada aquí."
    )
