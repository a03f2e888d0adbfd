"""Demo data on the sandbox's first start, made through the services the bot uses, so every
section of /workflow_recovery has something to show.

Items with stock; requests at each stage (waiting for the manager, at the warehouse, completed,
rejected); one stuck request (created 30 hours ago); one dead notification (Olaf blocked the
bot, so his notice cannot be delivered); a nudge in the recovery log; an error record (Anna
opening the admins' menu); and one inventory discrepancy: a stock movement left pending 30
hours ago, the one row written straight into the database, as a crash would leave it."""

from __future__ import annotations

import logging
from datetime import timedelta

from core.enums import RecoveryAction, TransactionKind, TransactionStatus
from database.models import InventoryTransaction
from services.inventory import ImportRow
from services.requests import Line
from simulators.sandbox.people import BLOCKED, PREPARED
from simulators.sandbox.world import Sandbox

logger = logging.getLogger(__name__)

ITEMS = (
    ("PAPER-A4", "Paper A4", "pack", 40),
    ("PEN-BLUE", "Blue pens", "box", 25),
    ("STAPLER", "Stapler", "pcs", 6),
    ("TONER-HP", "Toner HP 85A", "pcs", 4),
    ("USB-C", "USB-C cable", "pcs", 12),
)
STUCK_HOURS = 30


async def has_data(sandbox: Sandbox) -> bool:
    """Anything in the inventory: the demo ran before, or someone imported their own."""
    items, _ = await sandbox.app.inventory.page(0, 1)
    return bool(items)


async def build_demo(sandbox: Sandbox) -> None:
    app = sandbox.app
    await app.inventory.import_rows(
        [ImportRow(n + 2, sku, name, unit, qty) for n, (sku, name, unit, qty) in enumerate(ITEMS)]
    )
    people = {p.role: p for p in PREPARED}
    await sandbox.register(BLOCKED)
    ids = {u.telegram_id: u.id for u in await app.users.list_users()}
    anna, boris = ids[people["employee"].id], ids[people["manager"].id]
    carmen, ada = ids[people["storekeeper"].id], ids[people["admin"].id]
    items = {i.sku: i.id for i in (await app.inventory.page(0, len(ITEMS)))[0]}

    # The stuck one: waiting for the manager for 30 hours (stuck after 24).
    sandbox.clock.shift(timedelta(hours=-STUCK_HOURS))
    try:
        stuck = await app.requests.create(anna, [Line(items["TONER-HP"], 1)])
    finally:
        sandbox.clock.shift(timedelta(hours=STUCK_HOURS))
    await app.requests.create(anna, [Line(items["PAPER-A4"], 5), Line(items["PEN-BLUE"], 2)])
    at_warehouse = await app.requests.create(anna, [Line(items["USB-C"], 2)])
    await app.requests.approve(at_warehouse.id, boris, at_warehouse.version)
    done = await app.requests.create(anna, [Line(items["STAPLER"], 1)])
    done = await app.requests.approve(done.id, boris, done.version)
    await app.requests.approve(done.id, carmen, done.version)
    rejected = await app.requests.create(anna, [Line(items["PAPER-A4"], 30)])
    await app.requests.reject(rejected.id, boris, rejected.version, "Thirty packs is a lot")

    # Olaf blocked the bot: the notice about his approved request goes dead at once.
    blocked = sandbox.api.fail_for(
        3600, 403, method="sendMessage", match=lambda p: p.get("chat_id") == BLOCKED.id
    )
    try:
        olafs = await app.requests.create(ids[BLOCKED.id], [Line(items["PEN-BLUE"], 1)])
        await app.requests.approve(olafs.id, boris, olafs.version)
        await app.sender.flush()
    finally:
        sandbox.api.faults.remove(blocked)

    await app.stuck.detect()  # marks the stuck request and nudges Boris
    stuck = await app.requests.get(stuck.id) or stuck
    await app.actions.apply(
        stuck.id, RecoveryAction.NUDGE, ada, stuck.version, "Demo: reminded Boris by hand"
    )
    await _pending_movement(sandbox, items["TONER-HP"])
    await app.reconciliation.run(apply=True, trigger="sandbox demo")

    # Anna tries the admins' menu: refused, and on record as an error.
    mark = sandbox.api.mark()
    sandbox.send(people["employee"].id, "/workflow_recovery")
    await sandbox.api.wait_for(
        lambda c: c.method == "sendMessage" and c.chat_id == people["employee"].id,
        since=mark,
        what="the bot's answer to Anna",
    )
    await app.sender.flush()
    logger.info("sandbox demo data is in place")


async def _pending_movement(sandbox: Sandbox, item_id: int) -> None:
    at = sandbox.clock.now() - timedelta(hours=STUCK_HOURS)
    async with sandbox.app.sessionmaker() as session, session.begin():
        session.add(
            InventoryTransaction(
                item_id=item_id,
                kind=TransactionKind.ADJUSTMENT,
                quantity=-1,
                status=TransactionStatus.PENDING,
                reason="a stock count cut off by a crash (sandbox demo)",
                created_at=at,
                committed_at=None,
            )
        )
