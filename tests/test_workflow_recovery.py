"""/workflow_recovery as admins and support use it: pressing buttons by their labels."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from aiogram.utils.i18n import gettext as _
from sqlalchemy import select

from core.clock import FrozenClock
from core.enums import (
    ErrorCategory,
    RecoveryAction,
    RecoveryOutcome,
    RequestStatus,
    Role,
    TransitionAction,
)
from database.models import (
    ErrorRecord,
    PendingNotification,
    Request,
    RequestTransition,
    TransactionLog,
    WorkflowRecoveryLog,
)
from services.failures.classify import FailureContext
from services.requests import Line
from tests.conftest import ADMIN_TG_ID, World
from tests.factories import person, stock
from tests.support.client import TelegramClient, strip_reference

REQUESTER, MANAGER, MANAGER2, KEEPER, SUPPORT, ADMIN2 = 101, 201, 202, 301, 950, 901
NAMES = {
    REQUESTER: "Ann",
    MANAGER: "Max",
    MANAGER2: "Mia",
    KEEPER: "Kim",
    SUPPORT: "Sue",
    ADMIN2: "Ada",
    ADMIN_TG_ID: "Root",
}


async def rows(world: World, model: type) -> list[Any]:
    async with world.app.sessionmaker() as session:
        result = await session.execute(select(model).order_by(model.id))
        return list(result.unique().scalars())


async def ids(world: World) -> dict[int, int]:
    return {u.telegram_id: u.id for u in await world.app.users.list_users()}


async def people(world: World) -> None:
    await stock(world, ("P-1", "Paper", 10), ("P-2", "Pens", 10))
    for tg, name, role in (
        (REQUESTER, "Ann", Role.REQUESTER),
        (MANAGER, "Max", Role.MANAGER),
        (MANAGER2, "Mia", Role.MANAGER),
        (KEEPER, "Kim", Role.STOREKEEPER),
        (SUPPORT, "Sue", Role.SUPPORT),
        (ADMIN2, "Ada", Role.ADMIN),
    ):
        await person(world, tg, role)
        await world.client(tg, name).send("/start")
    await world.app.users.ensure_admins()
    await world.client(ADMIN_TG_ID, "Root").send("/start")


async def stuck_request(world: World, clock: FrozenClock, hours: int = 25) -> Request:
    user_ids = await ids(world)
    request = await world.app.requests.create(user_ids[REQUESTER], [Line(1, 2)])
    await world.deliver()
    clock.advance(timedelta(hours=hours))
    return request


async def open_menu(client: TelegramClient) -> None:
    await client.send("/workflow_recovery")


async def test_staff_only_and_the_main_menu(world: World, clock: FrozenClock) -> None:
    await people(world)
    await stuck_request(world, clock)
    ann = world.client(REQUESTER, NAMES[REQUESTER])
    await open_menu(ann)
    assert strip_reference(ann.last_reply()) == "This menu is for admins and support."
    [record] = await rows(world, ErrorRecord)  # the attempt is on record
    assert record.category is ErrorCategory.BUSINESS_LOGIC
    assert record.context["user_id"] == REQUESTER

    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    assert admin.last_reply() == "Workflow recovery. What needs attention?"
    assert admin.buttons() == [
        "Stuck workflows (1)",
        "System health",
        "Inventory reconciliation",
        "Error statistics",
        "Notification retries",
        "Recovery log",
    ]
    for section in ("Inventory reconciliation", "Notification retries"):
        await admin.click(section)
        assert "« Back" in admin.buttons()  # the section, reached from here
        await admin.click("« Back")
    assert admin.last_reply() == "Workflow recovery. What needs attention?"
    await admin.click("System health")
    assert admin.last_reply().startswith("🟢 System health: healthy.")
    menu_edits = admin.replies()
    await admin.click("« Back")
    assert admin.last_reply() == "Workflow recovery. What needs attention?"
    assert menu_edits  # everything so far edited the one menu message
    sent = [
        c
        for c in world.session.calls
        if getattr(c, "chat_id", None) == ADMIN_TG_ID and type(c).__name__ == "SendMessage"
    ]
    assert len(sent) == 2  # the /start greeting and the menu itself


async def test_force_transition_with_a_preset_reason(world: World, clock: FrozenClock) -> None:
    await people(world)
    request = await stuck_request(world, clock)
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    assert admin.last_reply() == (
        "Stuck workflows in all workflows: 1 (page 1 of 1), oldest first.\n\n"
        "#1 Ann · Manager approval · with Max\n   waiting 1 d 1 h (limit 1 d 0 h)"
    )
    await admin.click("#1")
    detail = admin.last_reply()
    assert detail.startswith("Request #1: in progress, at Manager approval, with Max.")
    assert "create: — → manager_approval (Ann)" in detail
    assert admin.buttons() == [
        "Nudge the assignee · low risk",
        "Reassign · medium risk",
        "Force to the next stage · high risk",
        "Force complete · high risk",
        "« Back",
    ]
    await admin.click("Force to the next stage · high risk")
    assert admin.last_reply().endswith("Why? Choose a reason or type your own.")
    await admin.click("Assignee is away")
    assert admin.last_reply() == (
        "Please confirm: Force to the next stage (high risk).\n"
        "Request #1 will move from Manager approval to Warehouse issue, with Kim.\n"
        "The requester and Kim are told.\n"
        "Reason: Assignee is away"
    )
    await admin.click("Confirm")
    assert admin.last_reply().startswith(
        "✅ Done.\n\nRequest #1: in progress, at Warehouse issue, with Kim."
    )
    [fresh] = await rows(world, Request)
    assert (fresh.stage, fresh.version) == ("warehouse_issue", request.version + 1)
    *_, moved = await rows(world, RequestTransition)
    assert (moved.action, moved.reason) == (TransitionAction.FORCE_TRANSITION, "Assignee is away")
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.action, log.outcome, log.from_stage, log.to_stage, log.risk.value) == (
        RecoveryAction.FORCE_TRANSITION,
        RecoveryOutcome.APPLIED,
        "manager_approval",
        "warehouse_issue",
        "high",
    )
    audit = [
        t for t in await rows(world, TransactionLog) if t.operation == "recovery_force_transition"
    ]
    assert [(t.outcome.value, t.before["stage"], t.after["stage"]) for t in audit] == [
        ("committed", "manager_approval", "warehouse_issue")
    ]
    await world.deliver()
    assert (
        world.client(KEEPER, NAMES[KEEPER])
        .inbox()[-1]
        .startswith("Request #1 from Ann waits for your decision (Warehouse issue):")
    )
    assert world.client(REQUESTER, NAMES[REQUESTER]).inbox()[-1] == (
        "An admin (Root) changed request #1: it is now at Warehouse issue. "
        "Reason: Assignee is away"
    )


async def test_typed_reason_and_a_change_meanwhile_is_reported(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    request = await stuck_request(world, clock)
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    await admin.click("#1")
    await admin.click("Force complete · high risk")
    await admin.send("Paper handed over by hand")
    assert admin.last_reply() == (
        "Please confirm: Force complete (high risk).\n"
        "Request #1 will be marked completed.\n"
        "The items will NOT be issued from stock.\n"
        "Only the requester is told.\n"
        "Reason: Paper handed over by hand"
    )
    # Meanwhile the manager approves it after all.
    user_ids = await ids(world)
    await world.app.requests.approve(request.id, user_ids[MANAGER], request.version)
    await admin.click("Confirm")
    assert admin.last_reply().startswith(
        "⚠️ Not applied: the request changed meanwhile. This is how it is now:\n\n"
        "Request #1: in progress, at Warehouse issue, with Kim."
    )
    [fresh] = await rows(world, Request)
    assert fresh.status is RequestStatus.ACTIVE
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.action, log.outcome) == (RecoveryAction.FORCE_COMPLETE, RecoveryOutcome.STALE)


async def test_two_admins_one_request_exactly_one_action_applies(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    await stuck_request(world, clock)
    admins = [world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID]), world.client(ADMIN2, NAMES[ADMIN2])]
    for admin, label in zip(
        admins, ["Force complete · high risk", "Force to the next stage · high risk"], strict=True
    ):
        await open_menu(admin)
        await admin.click("Stuck workflows (1)")
        await admin.click("#1")
        await admin.click(label)
        await admin.click("Wrong stage")
    confirm = [a.find_button_message("Confirm") for a in admins]
    await asyncio.gather(*(a.click_on(m, "Confirm") for a, m in zip(admins, confirm, strict=True)))
    outcomes = sorted(r.outcome.value for r in await rows(world, WorkflowRecoveryLog))
    assert outcomes == ["applied", "stale"]
    transitions = [
        t
        for t in await rows(world, RequestTransition)
        if t.action in (TransitionAction.FORCE_COMPLETE, TransitionAction.FORCE_TRANSITION)
    ]
    assert len(transitions) == 1


async def test_reassign_to_another_holder_of_the_role(world: World, clock: FrozenClock) -> None:
    await people(world)
    await stuck_request(world, clock)
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    await admin.click("#1")
    await admin.click("Reassign · medium risk")
    assert admin.last_reply() == "Reassign request #1 to:"
    assert admin.buttons() == ["Mia", "« Back"]  # Max has it already
    await admin.click("Mia")
    await admin.click("Decided outside the bot")
    assert "Request #1 will be given to Mia, at Manager approval." in admin.last_reply()
    await admin.click("Confirm")
    [fresh] = await rows(world, Request)
    user_ids = await ids(world)
    assert fresh.assignee_id == user_ids[MANAGER2]
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.from_assignee_id, log.to_assignee_id) == (user_ids[MANAGER], user_ids[MANAGER2])
    await world.deliver()
    mia = world.client(MANAGER2, NAMES[MANAGER2])
    assert mia.inbox()[-1].startswith("Request #1 from Ann waits for your decision")
    await mia.click("Approve")  # the new buttons carry the new version and work
    [fresh] = await rows(world, Request)
    assert fresh.stage == "warehouse_issue"


async def test_reset_to_the_previous_stage(world: World, clock: FrozenClock) -> None:
    await people(world)
    request = await stuck_request(world, clock, hours=0)
    user_ids = await ids(world)
    await world.app.requests.approve(request.id, user_ids[MANAGER], request.version)
    clock.advance(timedelta(days=3))
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    await admin.click("#1")
    await admin.click("Reset to the previous stage · high risk")
    await admin.click("Wrong stage")
    assert "Request #1 will move from Warehouse issue to Manager approval" in admin.last_reply()
    await admin.click("Confirm")
    [fresh] = await rows(world, Request)
    assert fresh.stage == "manager_approval"


async def test_support_sees_everything_but_runs_only_low_risk_actions(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    await stuck_request(world, clock)
    support = world.client(SUPPORT, NAMES[SUPPORT])
    await open_menu(support)
    await support.click("Stuck workflows (1)")
    await support.click("#1")
    assert support.buttons() == ["Nudge the assignee · low risk", "« Back"]
    assert support.last_reply().endswith("Other actions need an admin.")
    detail = support.find_button_message("Nudge the assignee · low risk")
    await support.press(detail, "wa:force_complete:1:1")  # a forged high-risk button
    assert strip_reference(support.callback_answers()[0].text) == (
        "Your role may not run this action."
    )
    [fresh] = await rows(world, Request)
    assert fresh.status is RequestStatus.ACTIVE
    await support.click("Nudge the assignee · low risk")
    await support.click("Assignee is away")
    await support.click("Confirm")
    await world.deliver()
    assert (
        world.client(MANAGER, NAMES[MANAGER])
        .inbox()[-1]
        .startswith("Reminder from an admin. Request #1 from Ann waits for your decision")
    )
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.action, log.risk.value) == (RecoveryAction.NUDGE, "low")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ("ws:0:99:0", "That filter no longer exists."),
        ("ws:0:-1:3", "That filter no longer exists."),
        ("wr:nothing", "That menu entry does not exist."),
        ("wc:123:1", "This step is no longer open. Start again from the menu."),
        ("wy:5:0", "This step is no longer open. Start again from the menu."),
        ("wd:xyz", "This button is no longer active. Start again from the menu: /help"),
        ("wa:explode:1:1", "This button is no longer active. Start again from the menu: /help"),
        ("wa:force_complete:1:7", "The request was changed meanwhile. Please look at it again."),
        ("we:year", "That period does not exist."),
        ("wlf:everything", "That filter no longer exists."),
        ("wj:99", "That job does not exist."),
    ],
)
async def test_forged_buttons_do_nothing_harmful_and_say_why(
    world: World, clock: FrozenClock, data: str, expected: str
) -> None:
    await people(world)
    await stuck_request(world, clock)
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    menu = admin.find_button_message("Recovery log")
    await admin.press(menu, data)
    [answer] = admin.callback_answers()
    assert strip_reference(answer.text) == expected
    [fresh] = await rows(world, Request)
    assert (fresh.status, fresh.version) == (RequestStatus.ACTIVE, 1)
    # A non-staff user pressing a real menu button is refused too.
    ann = world.client(REQUESTER, NAMES[REQUESTER])
    await ann.press(menu, "ws:0:-1:-1")
    assert strip_reference(ann.callback_answers()[0].text) == (
        "This menu is for admins and support."
    )


async def test_filter_by_stage(world: World, clock: FrozenClock) -> None:
    await people(world)
    first = await stuck_request(world, clock, hours=0)
    user_ids = await ids(world)
    await world.app.requests.approve(first.id, user_ids[MANAGER], first.version)
    await world.app.requests.create(user_ids[REQUESTER], [Line(2, 1)])
    clock.advance(timedelta(days=3))
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (2)")
    await admin.click("Filter")
    assert admin.buttons() == [
        "All workflows",
        "Inventory request",
        "› Manager approval",
        "› Warehouse issue",
        "« Back",
    ]
    await admin.click("› Warehouse issue")
    assert admin.last_reply().startswith(
        "Stuck workflows in Inventory request › Warehouse issue: 1 (page 1 of 1)"
    )
    assert "#1 Ann · Warehouse issue · with Kim" in admin.last_reply()


async def test_bulk_action_touches_exactly_what_was_previewed(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    user_ids = await ids(world)
    created = [
        await world.app.requests.create(user_ids[REQUESTER], [Line(1, 1)]) for _n in range(3)
    ]
    clock.advance(timedelta(days=2))
    sleeps: list[float] = []

    async def no_wait(seconds: float) -> None:
        sleeps.append(seconds)

    world.app.bulk.sleep = no_wait
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (3)")
    await admin.click("Bulk action…")
    assert admin.last_reply().startswith(
        "Bulk: Nudge the assignee in all workflows. 3 of the 3 stuck requests shown can take it."
    )
    await admin.click("Force complete")
    await admin.click("Duplicate or mistaken request")
    assert admin.last_reply() == (
        "Please confirm: Force complete for 3 stuck requests: #1, #2, #3.\n"
        "Only these requests are touched; any that changed since this preview are skipped.\n"
        "Only each request's requester is told.\n"
        "Reason: Duplicate or mistaken request"
    )
    # One of them moves on before the admin confirms: it must be skipped, not forced.
    await world.app.requests.approve(created[1].id, user_ids[MANAGER], created[1].version)
    await admin.click("Confirm")
    [job_id] = [
        int(t.split("#")[1].split(":")[0]) for t in admin.replies() if t.startswith("Bulk job #")
    ]
    job = await world.app.bulk.wait(job_id)
    assert (job.status.value, job.total, job.applied, job.skipped, job.failed) == (
        "completed",
        3,
        2,
        1,
        0,
    )
    assert sleeps == [0.2, 0.2]  # rate-limited: 5 a second by default
    await admin.click("Refresh")
    assert admin.last_reply() == (
        "Bulk job #1: finished. 2 applied, 1 skipped (changed meanwhile or no longer "
        "applicable), 0 failed, of 3."
    )
    statuses = {r.id: r.status for r in await rows(world, Request)}
    assert statuses == {
        1: RequestStatus.COMPLETED,
        2: RequestStatus.ACTIVE,
        3: RequestStatus.COMPLETED,
    }
    logs = await rows(world, WorkflowRecoveryLog)
    assert sorted((r.request_id, r.outcome.value) for r in logs) == [
        (1, "applied"),
        (2, "stale"),
        (3, "applied"),
    ]
    assert {r.job_id for r in logs} == {job_id}


async def test_error_statistics_and_resolving(world: World, clock: FrozenClock) -> None:
    await people(world)
    recorder = world.app.recorder
    for _repeat in range(3):
        await recorder.record(RuntimeError("db glitch"), FailureContext(handler="h.one"))
    await recorder.record(KeyError("x"), FailureContext(handler="h.two"))
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Error statistics")
    text = admin.last_reply()
    assert text.startswith(
        "Errors in the last day: 4\nBy category: system 4\nBy severity: high 4\n\nMost frequent:"
    )
    records = {r.handler: r for r in await rows(world, ErrorRecord)}
    first = records["h.one"]
    assert f"{first.reference} · 3× · last" in text
    await admin.click(first.reference)
    assert admin.last_reply().startswith(f"Error {first.reference}: system, severity high")
    await admin.click("Mark resolved")
    await admin.click("Fixed")
    assert admin.last_reply().startswith("✅ Resolved.")
    async with world.app.sessionmaker() as session:
        resolved = await session.get(ErrorRecord, first.id)
    assert resolved is not None and resolved.resolution_note == "Fixed"
    # Support reads the same screens but cannot resolve.
    support = world.client(SUPPORT, NAMES[SUPPORT])
    await open_menu(support)
    await support.click("Error statistics")
    await support.click(records["h.two"].reference)
    assert "Mark resolved" not in support.buttons()


async def test_recovery_log_with_filters(world: World, clock: FrozenClock) -> None:
    await people(world)
    user_ids = await ids(world)
    one = await world.app.requests.create(user_ids[REQUESTER], [Line(1, 1)])
    two = await world.app.requests.create(user_ids[REQUESTER], [Line(1, 1)])
    await world.app.actions.apply(
        one.id, RecoveryAction.NUDGE, user_ids[ADMIN2], one.version, "ping"
    )
    await world.app.actions.apply(
        two.id, RecoveryAction.FORCE_COMPLETE, user_ids[ADMIN_TG_ID], two.version, "done by phone"
    )
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Recovery log")
    text = admin.last_reply()
    assert text.startswith("Recovery log: 2 entries (page 1 of 1), newest first.")
    assert "#2 · Force complete by Root: applied\n   done by phone" in text
    await admin.click("By admin")
    await admin.click("Ada")
    assert "#1 · Nudge the assignee by Ada: applied" in admin.last_reply()
    assert "#2 ·" not in admin.last_reply()
    await admin.click("By request")
    await admin.send("two")
    assert admin.last_reply() == "Please send the request number as digits, for example 42."
    for beyond in ("99999999999999999999", "١٢", "0"):  # past any id, not ASCII, not an id
        await admin.send(beyond)
        assert admin.last_reply() == "Please send the request number as digits, for example 42."
    assert await rows(world, ErrorRecord) == []
    await admin.send("2")
    assert "Filter: request #2" in admin.last_reply()
    assert "#1 ·" not in admin.last_reply()
    await admin.click("Clear filter")
    assert admin.last_reply().startswith("Recovery log: 2 entries")


async def test_the_stuck_job_nudges_once_then_escalates_once(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    await stuck_request(world, clock, hours=1)
    stuck = world.app.stuck
    assert (await stuck.detect()).new == 0  # 1 h is within the 24 h limit
    clock.advance(timedelta(hours=24))
    result = await stuck.detect()
    assert (result.new, result.nudged, result.escalated) == (1, 1, 0)
    assert (await stuck.detect()) == type(result)(0, 0, 0, 0)  # never twice per period
    await world.deliver()
    assert world.client(MANAGER, NAMES[MANAGER]).inbox()[-1] == (
        "Request #1 has been waiting for you for 25 h (Manager approval). Please decide on it."
    )
    clock.advance(timedelta(hours=24))  # 49 h: past the 48 h escalation
    result = await stuck.detect()
    assert (result.new, result.nudged, result.escalated) == (0, 0, 1)
    assert (await stuck.detect()).escalated == 0
    await world.deliver()
    for admin_id in (ADMIN_TG_ID, ADMIN2):
        assert world.client(admin_id, NAMES[admin_id]).inbox()[-1] == (
            "Request #1 is stuck at Manager approval for 49 h despite a reminder to Max. "
            "See /workflow_recovery."
        )
    kinds = [n.kind for n in await rows(world, PendingNotification) if n.kind.startswith("stuck_")]
    assert sorted(kinds) == ["stuck_escalation", "stuck_escalation", "stuck_nudge"]
    logs = await rows(world, WorkflowRecoveryLog)
    assert [(r.action, r.actor_id) for r in logs] == [
        (RecoveryAction.NUDGE, None),
        (RecoveryAction.ESCALATE, None),
    ]


async def test_a_gone_assignee_is_detected_and_offered_for_reassignment(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    await stuck_request(world, clock, hours=1)  # not late at all
    await world.app.users.set_active(MANAGER, False)
    result = await world.app.stuck.detect()
    assert (result.new, result.escalated, result.assignee_gone) == (1, 1, 1)
    await world.deliver()
    assert world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID]).inbox()[-1] == (
        "Request #1 is stuck at Manager approval for 1 h: nobody who can act on it is "
        "assigned. Reassign it in /workflow_recovery."
    )
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    assert "⚠️ assignee gone" in admin.last_reply()
    await admin.click("#1")
    await admin.click("Reassign · medium risk")
    assert admin.buttons() == ["Mia", "« Back"]


async def test_the_admin_menu_in_russian(world: World, clock: FrozenClock) -> None:
    await people(world)
    await stuck_request(world, clock)
    i18n = world.app.i18n

    def tr(message: str, **params: object) -> str:
        with i18n.context(), i18n.use_locale("ru"):
            return _(message).format(**params) if params else _(message)

    admin = world.client(ADMIN2, "Ada", language_code="ru")
    await open_menu(admin)
    assert admin.last_reply() == tr("Workflow recovery. What needs attention?")
    await admin.click(tr("Stuck workflows ({count})", count=1))
    await admin.click("#1")
    label = f"{tr('Force complete')} · {tr('high risk')}"
    await admin.click(label)
    await admin.click(tr("Wrong stage"))
    assert admin.last_reply().startswith(
        tr("Please confirm: {action} ({risk}).", action=tr("Force complete"), risk=tr("high risk"))
    )
    await admin.click(tr("Confirm"))
    assert admin.last_reply().startswith("✅ " + tr("Done."))
    [fresh] = await rows(world, Request)
    assert fresh.status is RequestStatus.COMPLETED
    assert tr("Force complete") != "Force complete"


async def test_cli_stuck_commands_write_the_same_audit(
    world: World,
    clock: FrozenClock,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from bot.cli import build_parser
    from bot.cli.stuck import stuck_command

    await people(world)
    await stuck_request(world, clock)

    async def run(*argv: str) -> tuple[int, str, str]:
        # The test's app: the same services `create_app` gives the command line, on its clock.
        code = await stuck_command(build_parser().parse_args(["stuck", *argv]), world.app)
        out, err = capsys.readouterr()
        return code, out, err

    code, out, _err = await run("list")
    assert code == 0 and out.startswith("#1\tinventory_request/manager_approval\trequester Ann")
    code, out, _err = await run("show", "1")
    assert "possible actions: nudge, reassign, force_transition, force_complete" in out
    code, out, _err = await run("transition", "1", "--reason", "telegram is down")
    assert (code, out) == (0, "applied: #1 is now active at warehouse_issue\n")
    [log] = await rows(world, WorkflowRecoveryLog)
    assert (log.action, log.reason, log.outcome) == (
        RecoveryAction.FORCE_TRANSITION,
        "telegram is down",
        RecoveryOutcome.APPLIED,
    )
    code, _out, err = await run("complete", "1", "--reason", "x", "--as", str(REQUESTER))
    assert code == 2 and "say which admin acts with --as" in err
    code, _out, err = await run("reassign", "1", "--reason", "x", "--to", "777")
    assert code == 1 and "no user with Telegram id 777" in err


async def test_a_staff_command_answers_in_the_middle_of_a_typed_reason(
    world: World, clock: FrozenClock
) -> None:
    await people(world)
    await stuck_request(world, clock)
    await world.app.recorder.record(RuntimeError("db glitch"), FailureContext(handler="h.one"))
    [record] = await rows(world, ErrorRecord)
    admin = world.client(ADMIN_TG_ID, NAMES[ADMIN_TG_ID])
    await open_menu(admin)
    await admin.click("Stuck workflows (1)")
    await admin.click("#1")
    await admin.click("Force complete · high risk")
    # Asked for a reason, the admin looks a code up first: /error answers, it is no reason.
    await admin.send(f"/error {record.reference}")
    assert admin.last_reply().startswith(f"Error {record.reference}: system, severity high")
    await admin.send("Paper handed over by hand")
    assert admin.last_reply().endswith("Reason: Paper handed over by hand")
