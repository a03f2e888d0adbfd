"""A confirmation interrupted between its claim and its apply, or between its apply and the
stored outcome, tells the truth from the database and is applied exactly once (issue 27).

The crash is simulated where it would happen: the claim taken by a press whose process then
died (it is taken here directly, as that press took it), an apply whose transaction died, or a
process that died after the apply committed, before it stored what came of it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from database.models import Confirmation, User
from database.repositories.reconciliation import ReconciliationRepository
from services.confirmations import ConfirmationUsed
from tests.conftest import ADMIN_TG_ID, World
from tests.support.client import TelegramClient
from tests.test_confirmations import CASES, answer_of, confirmation_screen, inventory_state

kinds = pytest.mark.parametrize("kind", list(CASES))
GRACE = timedelta(seconds=61)  # past CLAIM_GRACE: a claim this old without an outcome died
NOT_YET = (
    "This was confirmed at {time} UTC and nothing has been applied yet: it is still running or "
    "was interrupted. Look again in a minute, and press again if it is still needed."
)
EARLIER = "⚠️ An earlier press at {time} UTC was interrupted before anything was applied."
APPLIED_UNTOLD = (
    "This was confirmed at {time} UTC and applied, but interrupted before its result was "
    "shown. Look again to see how things are now."
)


def minute(world: World) -> str:
    return f"{world.app.clock.now():%Y-%m-%d %H:%M}"


def advance(world: World, delta: timedelta) -> None:
    world.app.clock.advance(delta)  # type: ignore[attr-defined]


async def record(world: World) -> Confirmation:
    async with world.app.sessionmaker() as session:
        [found] = await session.scalars(select(Confirmation))
        return found


async def claim_and_die(world: World) -> str:
    """The press whose process died right after its claim committed; its minute."""
    async with world.app.sessionmaker() as session:
        admin = await session.scalar(select(User.id).where(User.telegram_id == ADMIN_TG_ID))
    assert admin is not None
    token = (await record(world)).id
    await world.app.confirmations.claim(token, admin)
    return minute(world)


def only_answer(client: TelegramClient) -> str:
    [answer] = client.callback_answers()
    return answer.text or ""


@kinds
async def test_a_claim_that_died_before_applying_is_applied_once_by_a_later_press(
    world: World, kind: str
) -> None:
    case = CASES[kind]
    admin, screen, ctx = await confirmation_screen(world, case)
    before = await case.state(world)
    died_at = await claim_and_die(world)

    advance(world, timedelta(seconds=10))  # a moment later: running or dead, nothing applied
    await admin.click_on(screen, case.yes)
    assert only_answer(admin) == NOT_YET.format(time=died_at)
    assert await case.state(world) == before

    advance(world, GRACE)  # long dead: the record says nothing was applied, so it applies now
    pressed_at = minute(world)
    await admin.click_on(screen, case.yes)
    await case.settle(world)
    assert admin.last_reply().startswith(EARLIER.format(time=died_at) + "\n\n")
    after = await case.state(world)
    assert after != before

    await admin.click_on(screen, case.yes)  # and once only
    assert answer_of(admin) == (
        f"This was already confirmed at {pressed_at} UTC.\n" + case.outcome.format(**ctx)
    )
    assert await case.state(world) == after


@kinds
async def test_an_apply_that_died_before_its_outcome_was_stored_is_not_applied_again(
    world: World, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = CASES[kind]
    admin, screen, _ctx = await confirmation_screen(world, case)
    before = await case.state(world)

    async def power_cut(token: str, outcome: object) -> None:
        raise RuntimeError("power cut")

    pressed_at = minute(world)
    with monkeypatch.context() as patch:
        patch.setattr(world.app.confirmations, "settle", power_cut)
        await admin.click_on(screen, case.yes)
        await case.settle(world)
    applied = await case.state(world)
    assert applied != before
    assert (await record(world)).outcome == {"status": "applied"}  # marked with the apply

    for wait in (timedelta(seconds=1), GRACE, timedelta(minutes=20)):  # now, later, expired
        advance(world, wait)
        await admin.click_on(screen, case.yes)
        assert only_answer(admin) == APPLIED_UNTOLD.format(time=pressed_at)
        assert await case.state(world) == applied


async def test_an_apply_transaction_that_died_leaves_it_to_be_confirmed_again(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The apply's own transaction dies, and the process with it (no release)."""
    case = CASES["set_counted"]
    admin, screen, _ctx = await confirmation_screen(world, case)

    async def release_never_ran(claimed: object) -> None:
        return None

    async def dies(self: ReconciliationRepository, item_id: int) -> int:
        raise RuntimeError("power cut")

    pressed_at = minute(world)
    with monkeypatch.context() as patch:
        patch.setattr(world.app.confirmations, "release", release_never_ran)
        patch.setattr(ReconciliationRepository, "ledger_balance", dies)
        await admin.click_on(screen, case.yes)
    assert await inventory_state(world) == ({"A": 20}, 1, 0)
    assert (await record(world)).used_at is not None  # the claim stands, unsettled

    advance(world, GRACE)
    await admin.click_on(screen, case.yes)
    assert admin.last_reply() == (
        EARLIER.format(time=pressed_at) + "\n\nAdjustment posted for A: counted 18, ledger "
        "balance was 20, adjustment -2."
    )
    assert await inventory_state(world) == ({"A": 18}, 2, 0)


async def test_an_interrupted_claim_that_expired_says_nothing_was_applied(world: World) -> None:
    case = CASES["reconcile_apply"]
    admin, screen, _ctx = await confirmation_screen(world, case)
    before = await case.state(world)
    died_at = await claim_and_die(world)
    advance(world, timedelta(minutes=15))
    await admin.click_on(screen, case.yes)
    assert answer_of(admin) == (
        f"This was confirmed at {died_at} UTC but interrupted before anything was applied, and "
        "it has expired since. Nothing was changed. Look again and confirm anew."
    )
    assert await case.state(world) == before


async def test_a_late_second_apply_of_one_claim_is_refused_in_its_own_transaction(
    world: World,
) -> None:
    """A press taken for dead that was only slow: its apply, arriving after another press
    applied the confirmation, rolls back on the applied mark."""
    case = CASES["set_counted"]
    await confirmation_screen(world, case)
    async with world.app.sessionmaker() as session:
        admin = await session.scalar(select(User.id).where(User.telegram_id == ADMIN_TG_ID))
    assert admin is not None
    confirmations, reconciliation = world.app.confirmations, world.app.reconciliation
    claimed = await confirmations.claim((await record(world)).id, admin)
    with confirmations.applying(claimed):
        await reconciliation.set_counted(1, 18, "counted", admin, expect=(20, 20))
    with confirmations.applying(claimed), pytest.raises(ConfirmationUsed):
        await reconciliation.set_counted(1, 17, "counted", admin)
    assert await inventory_state(world) == ({"A": 18}, 2, 0)
