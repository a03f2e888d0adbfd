"""The admin queries written for a million rows still say exactly what the obvious ones said:
the stuck set against its definition, error statistics against a count by hand, the command
line's pages; on PostgreSQL, EXPLAIN shows the conditions are index ranges."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import FrozenClock
from core.enums import ErrorCategory, ErrorSeverity, RequestStatus, Role
from database.models import ErrorOccurrence, ErrorRecord, Request, User, UserRole
from services.stuck import StuckFilter
from tests.conftest import World

WF = "inventory_request"
MANAGER_STAGE, WAREHOUSE_STAGE = "manager_approval", "warehouse_issue"
THRESHOLD = {MANAGER_STAGE: timedelta(hours=24), WAREHOUSE_STAGE: timedelta(hours=48)}
ROLE = {MANAGER_STAGE: Role.MANAGER, WAREHOUSE_STAGE: Role.STOREKEEPER}


async def population(world: World, now: datetime) -> dict[int, bool]:
    """Users with every kind of assignee, requests of every kind; returns {request id: stuck}
    by the definition (active and: late, or assignee none / inactive / without the role, or
    a stage or workflow not in the file)."""
    people = [
        # id, active, roles
        (1, True, [Role.REQUESTER]),
        (5, True, [Role.MANAGER]),
        (7, False, [Role.MANAGER]),  # deactivated
        (9, True, [Role.MANAGER, Role.STOREKEEPER]),
        (12, True, [Role.REQUESTER]),  # lost the manager role
        (20, True, [Role.STOREKEEPER]),
        (30, True, [Role.MANAGER]),
    ]
    expected: dict[int, bool] = {}
    async with world.app.sessionmaker() as session:
        for uid, active, roles in people:
            user = User(id=uid, telegram_id=1000 + uid, full_name=f"U{uid}", created_at=now)
            user.is_active = active
            user.roles = [UserRole(role=r, granted_at=now) for r in roles]
            session.add(user)
        await session.flush()
        active_of = {uid: active for uid, active, _r in people}
        roles_of = {uid: set(roles) for uid, _a, roles in people}
        rid = 0
        cases = [(WF, s) for s in (MANAGER_STAGE, WAREHOUSE_STAGE)]
        cases += [(WF, "packing"), ("old_flow", MANAGER_STAGE)]
        for workflow, stage in cases:
            for assignee in (None, 1, 5, 7, 9, 12, 20, 30):
                for hours in (1, 23, 24, 25, 47, 49, 500):
                    for status in (RequestStatus.ACTIVE, RequestStatus.COMPLETED):
                        rid += 1
                        entered = now - timedelta(hours=hours)
                        session.add(
                            Request(
                                id=rid,
                                workflow=workflow,
                                stage=stage if status is RequestStatus.ACTIVE else None,
                                status=status,
                                requester_id=1,
                                assignee_id=assignee,
                                stage_entered_at=entered,
                                created_at=entered,
                                updated_at=entered,
                                version=1,
                            )
                        )
                        known = workflow == WF and stage in THRESHOLD
                        gone = known and (
                            assignee is None
                            or not active_of[assignee]
                            or ROLE[stage] not in roles_of[assignee]
                        )
                        late = known and timedelta(hours=hours) >= THRESHOLD[stage]
                        expected[rid] = status is RequestStatus.ACTIVE and (
                            not known or late or gone
                        )
        await session.commit()
    return expected


async def test_the_stuck_set_is_its_definition(world: World, clock: FrozenClock) -> None:
    now = clock.now()
    expected = await population(world, now)
    stuck = sorted(rid for rid, is_stuck in expected.items() if is_stuck)
    service = world.app.stuck
    assert await service.count() == len(stuck) == 208
    assert sorted(e.request.id for e in await service.all()) == stuck

    # Pages of 7 walk the whole set oldest first, each with the same total.
    seen: list[tuple[datetime, int]] = []
    for offset in range(0, len(stuck) + 7, 7):
        entries, total = await service.page(StuckFilter(), offset, 7)
        assert total == len(stuck)
        seen += [(e.request.stage_entered_at, e.request.id) for e in entries]
    assert seen == sorted(seen) and sorted(i for _t, i in seen) == stuck

    # Filters: a stage, and a workflow (which includes its stages that left the file).
    def where(pred: Callable[[Request], bool], rows: dict[int, Request]) -> list[int]:
        return sorted(i for i in stuck if pred(rows[i]))

    async with world.app.sessionmaker() as session:
        rows = {r.id: r for r in (await session.execute(select(Request))).unique().scalars()}
    by_stage = StuckFilter(WF, WAREHOUSE_STAGE)
    entries, total = await service.page(by_stage, 0, 1000)
    assert [e.request.id for e in entries] == [
        i
        for _t, i in sorted(
            (rows[i].stage_entered_at, i)
            for i in where(lambda r: r.stage == WAREHOUSE_STAGE, rows)
        )
    ]
    assert total == await service.count(by_stage) == 46
    in_wf = where(lambda r: r.workflow == WF, rows)
    assert sorted(e.request.id for e in await service.all(StuckFilter(WF))) == in_wf
    assert await service.count(StuckFilter(WF, "no_such_stage")) == 0
    gone = {e.request.id for e in await service.all() if e.assignee_gone}
    assert {rows[i].assignee_id for i in gone} == {None, 1, 7, 12, 20, 30, 5}


async def test_error_statistics_count_each_window(world: World, clock: FrozenClock) -> None:
    now = clock.now()
    async with world.app.sessionmaker() as session:
        for n, (category, severity) in enumerate(
            [
                (ErrorCategory.TRANSIENT, ErrorSeverity.LOW),
                (ErrorCategory.DATA, ErrorSeverity.CRITICAL),
                (ErrorCategory.SYSTEM, ErrorSeverity.HIGH),
            ],
            start=1,
        ):
            session.add(
                ErrorRecord(
                    id=n,
                    reference=f"E-{n}",
                    fingerprint=f"fp{n}",
                    category=category,
                    severity=severity,
                    exception_type="ValueError",
                    message="m",
                    context={},
                    count=0,
                    first_seen=now - timedelta(days=30),
                    last_seen=now - timedelta(minutes=n),
                )
            )
        await session.flush()
        # record: minutes ago of each occurrence
        ages = {1: [5, 50, 70, 2000], 2: [10, 3000, 3000, 9000, 20000], 3: [30, 30, 61, 62]}
        k = 0
        for record, minutes in ages.items():
            for m in minutes:
                k += 1
                session.add(
                    ErrorOccurrence(
                        error_id=record,
                        reference=f"E-O{k}",
                        occurred_at=now - timedelta(minutes=m),
                        context={},
                    )
                )
        await session.commit()
    hour = await world.app.errors.stats(now - timedelta(hours=1))
    assert hour.by_category == {
        ErrorCategory.TRANSIENT: 2,
        ErrorCategory.DATA: 1,
        ErrorCategory.SYSTEM: 2,
    }
    assert hour.by_severity == {
        ErrorSeverity.LOW: 2,
        ErrorSeverity.CRITICAL: 1,
        ErrorSeverity.HIGH: 2,
    }
    # Ties on the count: the most recently seen first.
    assert [(r.reference, n) for r, n in hour.top] == [("E-1", 2), ("E-3", 2), ("E-2", 1)]
    day = await world.app.errors.stats(now - timedelta(days=1))
    assert [(r.reference, n) for r, n in day.top] == [("E-3", 4), ("E-1", 3), ("E-2", 1)]
    week = await world.app.errors.stats(now - timedelta(days=7))
    assert [(r.reference, n) for r, n in week.top] == [("E-1", 4), ("E-2", 4), ("E-3", 4)]
    assert week.total == 12
    top_two = await world.app.errors.stats(now - timedelta(days=30))
    assert top_two.total == 13 and top_two.top[0][0].reference == "E-2"


async def plans(engine: AsyncEngine, work: Callable[[], Awaitable[Any]]) -> list[dict[str, Any]]:
    """EXPLAIN of every statement `work` sends, with sequential scans priced out: a tiny test
    table would always be read whole, so this shows whether the conditions *can* use an index."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, sql: str, params: Any, *args: Any) -> None:
        seen.append((sql, params))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        await work()
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)
    found = []
    async with engine.connect() as conn:
        await conn.exec_driver_sql("SET enable_seqscan = off")
        for sql, params in seen:
            raw = (await conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + sql, params)).scalar()
            found.append((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
        await conn.exec_driver_sql("RESET enable_seqscan")
    return found


def nodes(plan: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    here = [(plan["Node Type"], plan.get("Relation Name"), plan.get("Index Name"))]
    return here + [n for child in plan.get("Plans", []) for n in nodes(child)]


@pytest.mark.parametrize("backend", ["postgresql"])  # EXPLAIN's format is PostgreSQL's
async def test_postgresql_reads_the_admin_queries_from_indexes(
    world: World, clock: FrozenClock, engine: AsyncEngine
) -> None:
    await population(world, clock.now())
    async with engine.begin() as conn:
        # A year of old occurrences (server-side, milliseconds), so the planner sees a table
        # where the last day is a sliver, as it is in production.
        await conn.execute(
            text(
                "INSERT INTO error_records (reference, fingerprint, category, severity, "
                "exception_type, message, context, count, first_seen, last_seen, retry_count) "
                "VALUES ('E-1', 'fp', 'data', 'low', 'ValueError', 'm', '{}', 1, :t, :t, 0)"
            ),
            {"t": clock.now()},
        )
        await conn.execute(
            text(
                "INSERT INTO error_occurrences (error_id, reference, occurred_at, context) "
                "SELECT 1, 'E-O' || g, CAST(:t AS timestamptz) - g * interval '20 minutes', "
                "'{}' FROM generate_series(1, 20000) g"
            ),
            {"t": clock.now()},
        )
        await conn.execute(text("ANALYZE"))
    now = clock.now()
    for work, table, index in (
        (
            world.app.stuck.count,
            "requests",
            {"ix_requests_stuck", "ix_requests_assignee"},
        ),
        (lambda: world.app.stuck.page(StuckFilter(), 0, 5), "requests", {"ix_requests_stuck"}),
        (
            lambda: world.app.errors.stats(now - timedelta(days=1)),
            "error_occurrences",
            {"ix_error_occurrences_occurred_at"},
        ),
    ):
        found = [n for plan in await plans(engine, work) for n in nodes(plan)]
        assert not [n for n in found if n[0] == "Seq Scan" and n[1] == table]
        assert index <= {n[2] for n in found}  # bitmap index scans name no relation
    # The count's "assignee gone" gaps: each a range read from the index alone.
    found = [n for plan in await plans(engine, world.app.stuck.count) for n in nodes(plan)]
    assert ("Index Only Scan", "requests", "ix_requests_assignee") in found


async def test_cli_lists_page_and_say_how_many(
    world: World, clock: FrozenClock, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import build_parser
    from bot.cli.people import users_command
    from bot.cli.stuck import stuck_command

    await population(world, clock.now())

    async def run(command: Callable[..., Awaitable[int]], *argv: str) -> list[str]:
        assert await command(build_parser().parse_args(list(argv)), world.app) == 0
        return capsys.readouterr().out.splitlines()

    first = await run(stuck_command, "stuck", "list")
    assert len(first) == 21 and first[-1] == "1-20 of 208 in all; next: --offset 20"
    # Oldest first (500 hours), then by id: #1 is finished, #13 the first active one.
    assert first[0] == (
        "#13\tinventory_request/manager_approval\trequester U1\tassignee -\t"
        "waiting 500 h (limit 24 h) ASSIGNEE GONE"
    )
    last = await run(stuck_command, "stuck", "list", "--limit", "5", "--offset", "205")
    assert len(last) == 4 and last[-1] == "206-208 of 208 in all"
    assert await run(stuck_command, "stuck", "list", "--offset", "300") == [
        "nothing from --offset 300; 208 in all"
    ]
    one_stage = ["stuck", "list", "--workflow", WF, "--stage", WAREHOUSE_STAGE, "--limit", "1"]
    assert (await run(stuck_command, *one_stage))[-1] == "1-1 of 46 in all; next: --offset 1"
    assert await run(users_command, "users", "list", "--limit", "2", "--offset", "5") == [
        "1020\tU20\tstorekeeper",
        "1030\tU30\tmanager",
        "6-7 of 7 in all",
    ]
