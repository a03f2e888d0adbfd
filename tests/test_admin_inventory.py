"""The "Inventory reconciliation" screens, walked by pressing buttons as admin and support."""

from __future__ import annotations

from sqlalchemy import select

from core.enums import FindingStatus, Role, TransactionKind
from database.models import InventoryTransaction, ReconciliationLog
from handlers.admin.callbacks import ReconcileAction, ReconcileCallback, reconcile_home_data
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person
from tests.reconciliation_world import build_discrepancies, stocks
from tests.support.client import strip_reference

SUPPORT = 700
OUTSIDER = 101  # the requester of the built world


async def test_admin_previews_applies_and_sets_a_counted_quantity(world: World) -> None:
    ids = await build_discrepancies(world)
    admin = world.client(ADMIN_TG_ID, "Ada")
    await admin.send("/reconcile")
    assert admin.last_reply() == (
        "<b>Inventory reconciliation</b>\n\n"
        "No reconciliation has been applied yet.\n\n"
        "Open findings that need a person: 0."
    )
    assert admin.buttons() == ["Preview", "Apply", "Open findings", "History", "« Back"]
    home = admin.find_button_message("« Back")
    assert home.reply_markup.inline_keyboard[-1][0].callback_data == "wr:home"  # type: ignore[union-attr]

    await admin.click("Preview")
    preview = admin.last_reply()
    assert preview.startswith(
        "Preview (dry run): nothing was changed.\n\nFound by kind:\n"
        "• stock figure disagrees with the ledger: 1\n• negative stock: 1\n"
    )
    assert "Applying would fix 4 and leave 3 for an admin (3 new)." in preview
    assert (
        "• C: movement of a request that does not exist movement #10 (expected —, actual -2) "
        "→ reverse the movement"
    ) in preview
    assert (await stocks(world))["A"] == 7
    assert admin.buttons() == ["Apply", "« Back"]

    await admin.click("Apply")
    assert admin.last_reply() == (
        "Apply will recompute 1 stock figure(s), reverse 3 movement(s) and leave 3 finding(s) "
        "for an admin. Apply now?"
    )
    assert (await stocks(world))["A"] == 7  # asking changes nothing
    await admin.click("Yes, apply")
    assert admin.callback_answers()[0].text == "Done."
    assert admin.last_reply().startswith("Reconciliation run #1 applied.")
    assert "Fixed: 4. Left for an admin: 3 (3 new)." in admin.last_reply()
    assert (await stocks(world))["A"] == 10

    await admin.click("« Back")
    assert admin.last_reply().startswith(
        "<b>Inventory reconciliation</b>\n\nLast run: #1 2026-01-01 12:00 UTC (admin): "
        "7 found, 4 fixed, 3 for an admin\n"
    )
    assert admin.last_reply().endswith("Open findings that need a person: 3.")
    await admin.click("History")
    assert admin.last_reply() == (
        "Recent runs:\n#1 2026-01-01 12:00 UTC (admin): 7 found, 4 fixed, 3 for an admin"
    )
    await admin.click("« Back")
    await admin.click("Open findings")
    assert admin.last_reply() == (
        "Open findings that need a person:\n"
        "• B: negative stock (expected 0, actual -3)\n"
        "• F: pending movement too old movement #14 (expected —, actual -1)\n"
        "• G: duplicate movement for one request line movement #15 (expected -1, actual -3)"
    )
    assert admin.buttons() == [
        "Set counted quantity: B",
        "Set counted quantity: F",
        "Set counted quantity: G",
        "Count an item by SKU",
        "« Back",
    ]
    await admin.click("Set counted quantity: B")
    assert admin.last_reply() == (
        "Beta (B): stock figure -3, ledger balance -3.\n"
        "Send the quantity you physically counted (a whole number, 0 or more), or /cancel."
    )
    await admin.send("-2")
    assert admin.last_reply() == (
        "Please send a whole number, 0 or more (for example 12), or /cancel."
    )
    await admin.send("four")
    assert admin.last_reply().startswith("Please send a whole number")
    await admin.send("4")
    assert admin.last_reply() == "Why does the count differ? Choose a reason or type your own."
    assert admin.buttons() == ["Physical count", "Damaged or lost", "Found during an audit"]
    prompt = admin.find_button_message("Physical count")
    await admin.click("Physical count")
    assert admin.last_reply() == (
        "Set the counted quantity of Beta (B) to 4? Its stock figure is -3 and its ledger "
        "balance -3: an adjustment of +7 will be posted.\nReason: Physical count"
    )
    assert admin.buttons() == ["Yes, post it", "Cancel"]
    assert (await stocks(world))["B"] == -3  # asking changes nothing
    await admin.click("Yes, post it")
    assert admin.last_reply() == (
        "Adjustment posted for B: counted 4, ledger balance was -3, adjustment +7."
    )
    async with world.app.sessionmaker() as session:
        adjustment = (
            await session.execute(
                select(InventoryTransaction).where(
                    InventoryTransaction.kind == TransactionKind.ADJUSTMENT,
                    InventoryTransaction.item_id == ids["B"],
                    InventoryTransaction.quantity == 7,
                )
            )
        ).scalar_one()
        negative = (
            (
                await session.execute(
                    select(ReconciliationLog).where(ReconciliationLog.item_id == ids["B"])
                )
            )
            .scalars()
            .all()
        )
    assert adjustment.reason == "counted 4: Physical count"
    assert [r.status for r in negative] == [FindingStatus.RESOLVED, FindingStatus.FIXED]
    assert (await stocks(world))["B"] == 4
    # The preset button pressed again: the question is closed, nothing is posted twice.
    await admin.click_on(prompt, "Physical count")
    assert admin.callback_answers()[0].text == "That question is no longer open."


async def test_admin_types_a_reason_in_russian(world: World) -> None:
    await build_discrepancies(world)
    await world.app.reconciliation.run(apply=True)
    admin = world.client(ADMIN_TG_ID, "Ada", "ru")
    await admin.send("/reconcile")
    assert admin.buttons() == [
        "Предпросмотр",
        "Применить",
        "Открытые находки",
        "История",
        "« Назад",
    ]
    await admin.click("Открытые находки")
    assert admin.last_reply().startswith(
        "Открытые находки, требующие человека:\n• B: отрицательный остаток (ожидалось 0, "
        "фактически -3)"
    )
    await admin.click("Задать пересчитанное количество: B")
    await admin.send("0")
    await admin.send("списано при инвентаризации")
    assert admin.last_reply() == (
        "Задать пересчитанное количество Beta (B) равным 0? Остаток -3, баланс по журналу -3: "
        "будет проведена корректировка +3.\nПричина: списано при инвентаризации"
    )
    await admin.click("Да, провести")
    assert admin.last_reply() == (
        "Корректировка по B проведена: пересчитано 0, баланс по журналу был -3, корректировка +3."
    )
    assert (await stocks(world))["B"] == 0


async def test_support_previews_in_spanish_but_cannot_change_anything(world: World) -> None:
    ids = await build_discrepancies(world)
    await world.app.reconciliation.run(apply=True)
    await person(world, SUPPORT, Role.SUPPORT)
    support = world.client(SUPPORT, "Sam", "es")
    await support.send("/reconcile")
    assert support.buttons() == ["Vista previa", "Hallazgos abiertos", "Historial", "« Atrás"]
    await support.click("Vista previa")
    assert support.last_reply().startswith("Vista previa (simulación): no se cambió nada.")
    assert support.buttons() == ["« Atrás"]
    await support.click("« Atrás")
    await support.click("Hallazgos abiertos")
    assert support.buttons() == ["« Atrás"]  # no counting buttons for support
    before = await stocks(world)
    home = support.find_button_message("« Atrás")
    refused = "Solo los administradores pueden cambiar el inventario. El soporte solo puede mirar."
    for forged in (
        ReconcileCallback(action=ReconcileAction.ASK_APPLY).pack(),
        ReconcileCallback(action=ReconcileAction.COUNT, id=ids["B"]).pack(),
        ReconcileCallback(action=ReconcileAction.REASON, id=0).pack(),
    ):
        await support.press(home, forged)
        assert [strip_reference(a.text) for a in support.callback_answers()] == [refused]
    assert await stocks(world) == before


async def test_outsiders_and_forged_buttons_are_turned_away(world: World) -> None:
    ids = await build_discrepancies(world)
    outsider = world.client(OUTSIDER, "Ann")
    await outsider.send("/reconcile")
    assert outsider.last_reply().startswith(
        "Only admins and support can use inventory reconciliation."
    )
    admin = world.client(ADMIN_TG_ID, "Ada")
    await admin.send("/reconcile")
    home = admin.find_button_message("Preview")
    await outsider.press(home, reconcile_home_data())
    assert strip_reference(outsider.callback_answers()[0].text) == (
        "Only admins and support can use inventory reconciliation."
    )
    # An item that does not exist, an unknown action, a reason with no open question.
    await admin.press(home, ReconcileCallback(action=ReconcileAction.COUNT, id=999).pack())
    assert admin.callback_answers()[0].text == "That item no longer exists."
    await admin.press(home, "rc:zz:0")
    assert admin.callback_answers()[0].text == (
        "This button is no longer active. Start again from the menu: /help"
    )
    await admin.press(home, ReconcileCallback(action=ReconcileAction.REASON, id=7).pack())
    assert admin.callback_answers()[0].text == "That question is no longer open."
    await admin.press(home, "rc:c:not-a-number")
    assert admin.callback_answers()[0].text.startswith("This button is no longer active.")
    assert (await stocks(world))["A"] == 7
    assert ids


def test_home_button_data_fits_in_a_callback() -> None:
    assert reconcile_home_data() == "rc:h:0"
    assert len(ReconcileCallback(action=ReconcileAction.COUNT, id=2**31 - 1).pack()) <= 64


async def test_a_press_while_another_run_holds_the_lock_is_refused(world: World) -> None:
    await build_discrepancies(world)
    admin = world.client(ADMIN_TG_ID, "Ada")
    await admin.send("/reconcile")
    async with world.app.reconciliation.exclusive():
        await admin.click("Apply")
        answer = strip_reference(admin.callback_answers()[0].text)
    assert answer == "A reconciliation run is already in progress. Try again in a minute."
    assert (await stocks(world))["A"] == 7


async def test_admin_counts_a_disputed_item_named_by_sku_in_spanish(world: World) -> None:
    await build_discrepancies(world)
    admin = world.client(ADMIN_TG_ID, "Ada", "es")
    await admin.send("/reconcile")
    await admin.click("Hallazgos abiertos")
    await admin.click("Contar un artículo por código")
    assert admin.last_reply() == "Envía el código del artículo que contaste, o /cancel."
    await admin.send("NOPE")
    assert admin.last_reply() == (
        "No hay ningún artículo con el código NOPE. Envía otro código, o /cancel."
    )
    await admin.send("H")
    assert admin.last_reply() == (
        "Healthy (H): existencia 1, saldo del registro 1.\n"
        "Envía la cantidad que contaste físicamente (un número entero, 0 o más), o /cancel."
    )
    await admin.send("3")
    await admin.click("Encontrado en una auditoría")
    await admin.click("Sí, registrarlo")
    assert admin.last_reply() == (
        "Ajuste registrado para H: contado 3, el saldo del registro era 1, ajuste +2."
    )
    assert (await stocks(world))["H"] == 3
