"""The recovery actions' table (services/recovery/spec.py) is the single source: a changed row
changes every screen, the bulk job, the service and the command line, and a new action is one
enum value and one row."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.cli import build_parser
from bot.cli.stuck import stuck_command
from core.clock import FrozenClock
from core.enums import (
    RecoveryAction,
    RecoveryOutcome,
    RequestStatus,
    Risk,
    Role,
    TransitionAction,
)
from core.exceptions import InvalidTransition
from database.models import Request, RequestTransition, WorkflowRecoveryLog
from handlers.admin.callbacks import BulkAction, StuckAction
from handlers.admin.recovery.texts import MOVE_LINES, TOLD_LINES
from services.recovery.spec import (
    MOVES,
    SPECS,
    ActionSpec,
    Command,
    Move,
    Situation,
    Told,
    bulk_actions,
    may_run,
    offered_actions,
)
from services.requests import Line
from tests.conftest import ADMIN_TG_ID, World
from tests.test_workflow_recovery import (
    KEEPER,
    NAMES,
    REQUESTER,
    SUPPORT,
    ids,
    open_menu,
    people,
    rows,
    stuck_request,
)

ROOT = Path(__file__).resolve().parents[1]
FIXED = {"list", "detect", "show"}  # the `stuck` sub-commands that are not actions


def test_every_action_has_one_complete_row() -> None:
    assert list(SPECS) == [*RecoveryAction]  # the table is total, in the enum's order
    offered = [a for a, s in SPECS.items() if s.offered]
    assert set(bulk_actions()) <= set(offered)
    assert len({SPECS[a].label for a in SPECS}) == len(SPECS)
    names = [s.command.name for s in SPECS.values() if s.command]
    assert len(set(names)) == len(names) and not FIXED & set(names)
    for action in offered:
        row = SPECS[action]
        assert row.told in TOLD_LINES, action  # the screens can say who is told
        assert row.move in MOVE_LINES and row.move in MOVES, action
    assert set(MOVES) == set(Move) == set(MOVE_LINES)


def test_a_row_that_could_only_half_work_is_refused() -> None:
    nudge = SPECS[RecoveryAction.NUDGE]
    with pytest.raises(ValueError, match="history row"):
        replace(nudge, move=Move.FORWARD)  # would move nothing: no transition to write
    with pytest.raises(ValueError, match="history row"):
        replace(nudge, transition=TransitionAction.RESET)
    with pytest.raises(ValueError, match="bulk"):
        replace(SPECS[RecoveryAction.REASSIGN], bulk=True)  # nobody to pick in bulk
    with pytest.raises(ValueError, match="bulk"):
        replace(nudge, offered=False)


def test_availability_and_the_risk_gate_read_the_rows() -> None:
    everywhere = Situation(has_assignee=True, stage_known=True, has_previous=True, has_next=True)
    assert offered_actions(everywhere) == [a for a, s in SPECS.items() if s.offered]
    gone = Situation(has_assignee=True, stage_known=False, has_previous=False, has_next=False)
    assert offered_actions(gone) == [RecoveryAction.FORCE_COMPLETE]
    first = Situation(has_assignee=False, stage_known=True, has_previous=False, has_next=True)
    assert offered_actions(first) == [
        RecoveryAction.REASSIGN,
        RecoveryAction.FORCE_TRANSITION,
        RecoveryAction.FORCE_COMPLETE,
    ]
    support, admin = frozenset({Role.SUPPORT}), frozenset({Role.ADMIN})
    for action, row in SPECS.items():
        assert may_run(support, action) is (row.risk is Risk.LOW)
        assert may_run(admin, action)


def test_no_reader_names_an_action_of_its_own() -> None:
    """Outside the table only the stuck detector (it logs its own nudge and escalation) and the
    reassign buttons (their callback data carries no action) name a recovery action."""
    named: dict[str, set[str]] = {}
    for package in ("bot", "handlers", "middlewares", "outbox", "services"):
        for path in (ROOT / package).rglob("*.py"):
            where = path.relative_to(ROOT).as_posix()
            if where == "services/recovery/spec.py" or where.startswith(
                ("bot/sandbox", "bot/chaos")
            ):
                continue  # the table itself; the simulators drive the product like a person
            for node in ast.walk(ast.parse(path.read_text())):
                if (
                    isinstance(node, ast.Attribute)
                    and isinstance(node.value, ast.Name)
                    and node.value.id == "RecoveryAction"
                ):
                    named.setdefault(node.attr, set()).add(where)
    assert named.keys() == {"NUDGE", "ESCALATE", "REASSIGN"}
    assert named["NUDGE"] == named["ESCALATE"] == {"services/stuck.py"}
    assert len(named["REASSIGN"]) == 1  # the handler of the reassign buttons


async def test_a_changed_row_changes_the_screens_the_service_and_the_command_line(
    world: World, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    complete = SPECS[RecoveryAction.FORCE_COMPLETE]
    monkeypatch.setitem(
        SPECS,
        RecoveryAction.FORCE_COMPLETE,
        replace(complete, risk=Risk.LOW, bulk=False, command=Command("finish", "finish it")),
    )
    await people(world)
    await stuck_request(world, clock)
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    await admin.click("Bulk action…")
    assert admin.buttons()[:2] == ["Reset to the previous stage", "Force to the next stage"]
    assert "Force complete" not in admin.buttons()  # no longer in bulk
    actor = next(u for u in await world.app.users.list_users() if u.telegram_id == ADMIN_TG_ID)
    with pytest.raises(InvalidTransition):
        await world.app.bulk.start(actor, RecoveryAction.FORCE_COMPLETE, "x", [(1, 1)])

    support = world.client(SUPPORT, NAMES[SUPPORT])
    await open_menu(support)
    await support.click("Stuck workflows (1)")
    await support.click("#1")
    assert support.buttons() == [
        "Nudge the assignee · low risk",
        "Force complete · low risk",  # low risk now: support may run it
        "« Back",
    ]
    await support.click("Force complete · low risk")
    await support.click("Wrong stage")
    assert support.last_reply() == (
        "Please confirm: Force complete (low risk).\n"
        "Request #1 will be marked completed.\n"
        "The items will NOT be issued from stock.\n"
        "Only the requester is told.\n"
        "Reason: Wrong stage"
    )
    await support.click("Confirm")
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.action, log.risk, log.outcome) == (
        RecoveryAction.FORCE_COMPLETE,
        Risk.LOW,
        RecoveryOutcome.APPLIED,
    )
    parser = build_parser()
    args = parser.parse_args(["stuck", "finish", "1", "--reason", "x"])
    assert args.recovery_action is RecoveryAction.FORCE_COMPLETE
    with pytest.raises(SystemExit):
        parser.parse_args(["stuck", "complete", "1", "--reason", "x"])


def add_member(monkeypatch: pytest.MonkeyPatch, name: str, value: str) -> RecoveryAction:
    """What one more value in core/enums.py gives at import time: the enum knows it (a database
    engine made afterwards builds its column types from the enum; the callback data are rebuilt
    by the fixture)."""
    member = str.__new__(RecoveryAction, value)
    member._name_, member._value_ = name, value
    member._sort_order_ = len(RecoveryAction._member_names_)  # type: ignore[attr-defined]
    monkeypatch.setitem(RecoveryAction._member_map_, name, member)
    monkeypatch.setitem(RecoveryAction._value2member_map_, value, member)
    monkeypatch.setattr(RecoveryAction, "_member_names_", [*RecoveryAction._member_names_, name])
    return member


def rebuild_callbacks() -> None:
    for callback in (StuckAction, BulkAction):  # their validators list the enum's values
        callback.model_rebuild(force=True)


@pytest.fixture
def skip(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecoveryAction]:
    """A new action reusing an existing move: low risk, in bulk, with a command."""
    with monkeypatch.context() as patch:
        member = add_member(patch, "SKIP", "skip")
        patch.setitem(
            SPECS,
            member,
            ActionSpec(
                label="Skip ahead",  # a test's own text: the catalogs need not know it
                risk=Risk.LOW,
                move=Move.FORWARD,
                told=Told.REQUESTER_AND_ASSIGNEE,
                transition=TransitionAction.FORCE_TRANSITION,
                available=lambda s: s.has_next,
                bulk=True,
                command=Command("skip", "move it on"),
            ),
        )
        rebuild_callbacks()
        yield member
    rebuild_callbacks()


async def test_a_new_action_is_one_row(
    skip: RecoveryAction, world: World, clock: FrozenClock
) -> None:
    # `skip` comes first: the database engine's types are built after the enum knows it.
    await people(world)
    request = await stuck_request(world, clock)
    assert world.app.actions.available(request)[-1] is skip
    assert skip in bulk_actions()

    # Offered to support (low risk), confirmed and applied through the screens.
    support = world.client(SUPPORT, NAMES[SUPPORT])
    await open_menu(support)
    await support.click("Stuck workflows (1)")
    await support.click("#1")
    assert support.buttons() == [
        "Nudge the assignee · low risk",
        "Skip ahead · low risk",
        "« Back",
    ]
    await support.click("Skip ahead · low risk")
    await support.click("Assignee is away")
    assert support.last_reply() == (
        "Please confirm: Skip ahead (low risk).\n"
        "Request #1 will move from Manager approval to Warehouse issue, with Kim.\n"
        "The requester and Kim are told.\n"
        "Reason: Assignee is away"
    )
    await support.click("Confirm")
    assert support.last_reply().startswith("✅ Done.")
    [fresh] = await rows(world, Request)
    assert (fresh.stage, fresh.status) == ("warehouse_issue", RequestStatus.ACTIVE)
    *_, moved = await rows(world, RequestTransition)
    assert moved.action is TransitionAction.FORCE_TRANSITION
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.action, log.risk, log.outcome) == (skip, Risk.LOW, RecoveryOutcome.APPLIED)
    await world.deliver()
    assert world.client(KEEPER, NAMES[KEEPER]).inbox()[-1].startswith("Request #1 from Ann")
    assert (
        world.client(REQUESTER, NAMES[REQUESTER])
        .inbox()[-1]
        .startswith("An admin (Sue) changed request #1: it is now at Warehouse issue.")
    )

    # In the bulk list, and run by the bulk job.
    user_ids = await ids(world)
    second = await world.app.requests.create(user_ids[REQUESTER], [Line(1, 1)])
    clock.advance(timedelta(days=2))
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    [stuck_list] = [b for b in admin.buttons() if b.startswith("Stuck workflows")]
    await admin.click(stuck_list)
    await admin.click("Bulk action…")
    assert "Skip ahead" in admin.buttons()
    actor = next(u for u in await world.app.users.list_users() if u.telegram_id == ADMIN_TG_ID)
    job = await world.app.bulk.start(actor, skip, "by the job", [(second.id, second.version)])
    job = await world.app.bulk.wait(job.id)
    assert (job.action, job.applied) == (skip, 1)

    # And a sub-command of `python -m bot stuck`.
    third = await world.app.requests.create(user_ids[REQUESTER], [Line(1, 1)])
    args = build_parser().parse_args(["stuck", "skip", str(third.id), "--reason", "by hand"])
    assert await stuck_command(args, world.app) == 0
    async with world.app.sessionmaker() as session:
        moved_on = await session.get(Request, third.id)
    assert moved_on is not None and moved_on.stage == "warehouse_issue"


def test_the_new_action_is_gone_again() -> None:
    """The fixture above leaves the enum, the table and the callbacks as they were."""
    assert "skip" not in RecoveryAction._value2member_map_
    assert len(SPECS) == len(RecoveryAction)
    with pytest.raises(ValueError):
        StuckAction.unpack("wa:skip:1:1")
