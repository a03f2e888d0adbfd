"""Injecting the workflow, inventory and process faults (Telegram and database: faults.py)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from bot.scheduler import guarded
from core.enums import Role
from simulators.chaos.audit import ISSUING_STAGE, open_notifications
from simulators.chaos.faults import STARTED_HERE, start_fault
from simulators.chaos.freeze import StatementGate
from simulators.chaos.model import Incident
from simulators.chaos.people import KEEPERS, MANAGERS, REQUESTERS, People
from simulators.chaos.world import World
from simulators.local_api import FakeUser

CORRUPTED_SKU = {
    "inv_stock_mismatch": "PAPER",
    "inv_orphan": "PEN",
    "inv_duplicate_issue": "TAPE",
    "inv_negative_stock": "GLUE",
}
REMOVED = ISSUING_STAGE  # the stage the workflow incident cuts from the file
KILL_TURNS = 5000  # 1 ms waits for the task to reach its statement (real I/O)


async def inject(  # noqa: PLR0911
    world: World, people: People, incident: Incident, rng: random.Random
) -> bool:
    """Start the fault; False when its moment has not come (the run tries again later)."""
    kind = incident.kind
    if kind.startswith(STARTED_HERE):
        await start_fault(world, incident, rng)
        return True
    if kind == "tg_blocked":
        user = rng.choice(REQUESTERS[1:])
        world.api.fail_for(10**7, 403, method="*", match=lambda p: p.get("chat_id") == user.id)
        people.gone.add(user.id)
        people.blocked.add(user.id)
        incident.affected = [user.id]
        incident.detail = f"{user.first_name} ({user.id}) blocked the bot"
        return True
    if kind == "wf_silent_assignee":
        # Every active holder of a stage's role gets the decision buttons, so silence strands
        # requests only where nobody else of the role acts: such a person first (their
        # requests go stuck; Reassign after granting the role), else anyone (absorbed).
        # Managers: their stage is the first, still in the file after wf_stage_removed.
        away = people.silent | people.gone
        able = [u for u in MANAGERS if u.id not in away]
        if not able:
            return False
        user = rng.choice([u for u in able if not spare(people, u.id)] or able)
        people.silent.add(user.id)
        incident.affected = [user.id, *await holding(world, user.id)]
        incident.detail = f"{user.first_name} ({user.id}) stops deciding for the rest of the day"
        return True
    if kind in ("wf_deactivated_assignee", "wf_role_revoked"):
        return await deactivate(world, people, incident, rng)
    if kind.startswith("inv_"):
        return await corrupt(world, incident)
    if kind == "wf_stage_removed":
        return await remove_stage(world, incident)
    return await kill(world, people, incident, rng)


def spare(people: People, tg: int) -> bool:
    """Someone else of this person's role still acts (so a fix exists)."""
    group = MANAGERS if any(u.id == tg for u in MANAGERS) else KEEPERS
    return any(u.id != tg and u.id not in people.gone | people.silent for u in group)


async def holding(world: World, tg: int) -> list[int]:
    """The open requests assigned to this person now."""
    rows = await world.db.rows(
        "SELECT r.id FROM requests r JOIN users u ON u.id = r.assignee_id "
        "WHERE u.telegram_id = :tg AND r.status = 'active' ORDER BY r.id",
        tg=tg,
    )
    return [int(r) for (r,) in rows]


async def at_stage(world: World, stage: str) -> list[int]:
    """The open requests at this stage now."""
    rows = await world.db.rows(
        "SELECT id FROM requests WHERE status = 'active' AND stage = :s ORDER BY id", s=stage
    )
    return [int(r) for (r,) in rows]


async def deactivate(world: World, people: People, incident: Incident, rng: random.Random) -> bool:
    rows = await world.db.rows(
        "SELECT u.telegram_id, COUNT(*) FROM requests r JOIN users u ON u.id = r.assignee_id "
        "WHERE r.status = 'active' GROUP BY u.telegram_id ORDER BY 2 DESC, 1"
    )

    away = people.silent | people.gone
    candidates = [int(t) for t, _ in rows if int(t) not in away and spare(people, int(t))]
    if not candidates:
        return False
    user: FakeUser = next(u for u in MANAGERS + KEEPERS if u.id == candidates[0])
    held = await holding(world, user.id)
    if incident.kind == "wf_role_revoked":
        role = Role.MANAGER if user in MANAGERS else Role.STOREKEEPER
        await world.running.users.revoke(user.id, role)  # what `users revoke` does
        done = f"took the {role.value} role from"
    else:
        await world.running.users.set_active(user.id, False)  # what `users deactivate` does
        done = "deactivated"
    people.gone.add(user.id)
    incident.affected = [user.id, *held]
    incident.detail = f"an admin {done} {user.first_name} ({user.id}), holding requests"
    return True


async def remove_stage(world: World, incident: Incident) -> bool:
    """An admin deploys a workflow file without the warehouse stage and restarts the bot."""
    held = await at_stage(world, REMOVED)
    if not held:
        return False  # nobody waits at it: no request to strand yet
    path = world.settings.workflows_file
    text = path.read_text(encoding="utf-8")
    start = text.index(f'[[workflow.stage]]\nkey = "{REMOVED}"')
    path.write_text(text[:start], encoding="utf-8")  # it is the file's last stage
    await world.shutdown()
    world.sim.advance(5.0)
    await world.boot()
    incident.affected = [0, *held]
    incident.detail = (
        f"stage {REMOVED} removed from the workflow file ({len(held)} requests there)"
    )
    return True


async def corrupt(world: World, incident: Incident) -> bool:
    db, sku = world.db, CORRUPTED_SKU[incident.kind]
    ((item_id, stock),) = await db.rows(
        "SELECT id, stock FROM inventory_items WHERE sku = :sku", sku=sku
    )
    incident.affected = [int(item_id)]
    now = world.sim.now()
    insert = (
        "INSERT INTO inventory_transactions (item_id, request_id, request_item_id, kind, "
        "quantity, status, created_at, committed_at) VALUES (:item, :req, :line, :kind, :q, "
        "'committed', :now, :now)"
    )
    if incident.kind == "inv_stock_mismatch":
        await db.write("UPDATE inventory_items SET stock = stock + 7 WHERE id = :i", i=item_id)
        incident.detail = f"{sku}: the cached stock figure raised by 7, the ledger untouched"
    elif incident.kind == "inv_orphan":
        await db.write(insert, item=item_id, req=990001, line=None, kind="issue", q=-3, now=now)
        await db.write("UPDATE inventory_items SET stock = stock - 3 WHERE id = :i", i=item_id)
        incident.detail = f"{sku}: an issue of 3 for request #990001, which does not exist"
    elif incident.kind == "inv_duplicate_issue":
        rows = await db.rows(
            "SELECT t.request_id, t.request_item_id, t.quantity FROM inventory_transactions t "
            "WHERE t.item_id = :i AND t.kind = 'issue' AND t.request_id IS NOT NULL "
            "AND t.request_id < 990000 ORDER BY t.id LIMIT 1",
            i=item_id,
        )
        if not rows:
            return False  # nothing issued of it yet: try again later
        req, line, quantity = rows[0]
        await db.write(insert, item=item_id, req=req, line=line, kind="issue", q=quantity, now=now)
        await db.write(
            "UPDATE inventory_items SET stock = stock + :q WHERE id = :i", q=quantity, i=item_id
        )
        incident.detail = f"{sku}: request #{req}'s issue of {-quantity} written twice"
    else:
        drop = int(stock) + 5
        await db.write(
            insert, item=item_id, req=None, line=None, kind="adjustment", q=-drop, now=now
        )
        await db.write("UPDATE inventory_items SET stock = -5 WHERE id = :i", i=item_id)
        incident.detail = f"{sku}: an adjustment of -{drop} takes stock to -5"
    return True


async def kill(world: World, people: People, incident: Incident, rng: random.Random) -> bool:
    app, api = world.running, world.api
    if incident.kind in ("kill_mid_drain", "kill_mid_transaction") and not people.planned:
        return False  # nobody is about to decide: nothing to interrupt yet
    if incident.kind == "kill_mid_drain":
        # A decision now queues notifications; the kill comes while they are being sent.
        people.planned[0] = (world.sim.seconds, *people.planned[0][1:])
        people.decide(MANAGERS + KEEPERS)
        await world.poll()
        if not await open_notifications(world.db, world.sim.now() + timedelta(seconds=1)):
            return False
        # Frozen at the first statement after Telegram answered a send: the rows are sent
        # but not yet recorded as sent (the at-least-once window), or later ones of the batch.
        sends = api.mark()
        gate = StatementGate(app.engine, rng.randint(1, 3))
        gate.ready = lambda: bool(api.calls_of("sendMessage", since=sends))
        task: asyncio.Task[Any] = gate.task(app.sender.flush())
        what = "the outbox sender's"
    elif incident.kind == "kill_mid_transaction":
        people.planned[0] = (world.sim.seconds, *people.planned[0][1:])
        people.decide(MANAGERS + KEEPERS)
        gate = StatementGate(app.engine, rng.randint(1, 12))
        task = gate.task(world.poll())
        what = "a decision's handling's"
    else:
        spec = next(s for s in world.specs if s.job_id == "reconcile_inventory")
        gate = StatementGate(app.engine, rng.randint(1, 10))
        task = gate.task(_job(guarded(app, spec.job_id, spec.work)))
        what = "a reconciliation run's"
    mark = api.mark()
    world.tasks.add(task)
    for _ in range(KILL_TURNS):  # real I/O runs until the gate freezes the task
        if gate.reached or task.done():
            break
        await asyncio.sleep(0.001)
    sent = len(api.calls_of("sendMessage", since=mark))
    gate.close()
    await world.kill()
    world.sim.advance(5.0)  # the supervisor restarts the process
    await world.boot()
    if gate.reached:
        incident.detail = f"process killed before {what} SQL statement {gate.count}"
    else:
        incident.detail = f"process killed after {what} {gate.count} SQL statements (done)"
    if incident.kind == "kill_mid_drain":
        incident.detail += f", {sent} sendMessage answered before it"
    return True


async def _job(run: Callable[[], Awaitable[Any]]) -> Any:
    return await run()
