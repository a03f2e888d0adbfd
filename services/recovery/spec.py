"""The admin's recovery actions, one row each: the single table every reader consults.

The planner, the action service, the bulk job, the screens and the command line all read
`SPECS`, so a new action is one `RecoveryAction` value and one row here (plus its label's
translations). A row names its move (where the request goes) and who is told; the moves that
need the database ask a `MoveContext`, which services/recovery/plans.py answers.

Only the standard library and core/ are imported at run time: the command line builds its
`stuck` sub-commands from this table without loading SQLAlchemy or aiogram.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from core.enums import RecoveryAction, RequestStatus, Risk, Role, TransitionAction
from core.messages import N_
from core.workflows import Stage, Workflow

if TYPE_CHECKING:
    from database.models import User  # a type name only: the models load SQLAlchemy


@dataclass(frozen=True)
class Situation:
    """What availability looks at: where an active request stands in its workflow now."""

    has_assignee: bool
    stage_known: bool  # False: its stage is gone from the workflow file
    has_previous: bool
    has_next: bool

    @classmethod
    def of(cls, workflow: Workflow | None, stage: Stage | None, has_assignee: bool) -> Situation:
        if workflow is None or stage is None:
            return cls(has_assignee, stage_known=False, has_previous=False, has_next=False)
        return cls(
            has_assignee,
            stage_known=True,
            has_previous=workflow.previous_stage(stage.key) is not None,
            has_next=workflow.next_stage(stage.key) is not None,
        )


@dataclass(frozen=True)
class Destination:
    """Where a move puts the request."""

    stage: str | None
    status: RequestStatus
    assignee: User | None
    skips_stock_issue: bool = False  # a stage that issues stock is skipped: nothing leaves


class MoveContext(Protocol):
    """What a move may ask about the request it plans for (answered by plans.py)."""

    @property
    def here(self) -> Destination:
        """Where the request is now, with whom."""

    @property
    def workflow(self) -> Workflow | None: ...

    @property
    def stage(self) -> Stage | None:
        """Its current stage; None when the stage is gone from the workflow file."""

    async def holder(self, stage: Stage) -> User | None:
        """The least-loaded active holder of the stage's role but the requester."""

    async def came_from(self) -> Stage:
        """The stage it last entered this one from (its history), else the one before."""

    async def chosen(self) -> User | None:
        """The person the admin chose, checked; None while nobody is chosen yet."""


class Move(StrEnum):
    """Where an action sends the request; each is a function below (`MOVES`)."""

    STAY = "stay"  # nothing moves (a reminder)
    CHOSEN_HOLDER = "chosen_holder"  # same stage, another holder the admin picks
    BACK = "back"  # to where it came from, with that stage's least-loaded holder
    FORWARD = "forward"  # to the next stage, with its least-loaded holder
    COMPLETE = "complete"  # finished, nobody holds it


async def _stay(ctx: MoveContext) -> Destination:
    return ctx.here


async def _chosen_holder(ctx: MoveContext) -> Destination:
    chosen = await ctx.chosen()  # without a choice this only checks the move is possible
    return ctx.here if chosen is None else replace(ctx.here, assignee=chosen)


async def _back(ctx: MoveContext) -> Destination:
    back = await ctx.came_from()
    return Destination(back.key, RequestStatus.ACTIVE, await ctx.holder(back))


async def _forward(ctx: MoveContext) -> Destination:
    workflow, stage = ctx.workflow, ctx.stage
    forward = workflow.next_stage(stage.key) if workflow and stage else None
    assert stage is not None and forward is not None  # availability asked for a next stage
    return Destination(
        forward.key,
        RequestStatus.ACTIVE,
        await ctx.holder(forward),
        skips_stock_issue=stage.issues_stock,
    )


async def _complete(ctx: MoveContext) -> Destination:
    pending = stock_pending(ctx.workflow, ctx.stage)
    return Destination(None, RequestStatus.COMPLETED, None, skips_stock_issue=pending)


MOVES: dict[Move, Callable[[MoveContext], Awaitable[Destination]]] = {
    Move.STAY: _stay,
    Move.CHOSEN_HOLDER: _chosen_holder,
    Move.BACK: _back,
    Move.FORWARD: _forward,
    Move.COMPLETE: _complete,
}


def stock_pending(workflow: Workflow | None, stage: Stage | None) -> bool:
    """Whether this stage or one after it would still have issued stock."""
    if workflow is None or stage is None:
        return False
    keys = [s.key for s in workflow.stages]
    return any(s.issues_stock for s in workflow.stages[keys.index(stage.key) :])


class Told(StrEnum):
    """Who an action's notifications reach (services/recovery/actions.py:_notify)."""

    ASSIGNEE_REMINDER = "assignee_reminder"  # the assignee gets a reminder; nobody else
    REQUESTER_AND_ASSIGNEE = "requester_and_assignee"  # and the new assignee, if active
    REQUESTER = "requester"
    ADMINS = "admins"  # the stuck detector alerts them itself (escalate)

    def reaching(self, to: Destination) -> Told:
        """Who is really told once the destination is known: no assignee, only the requester."""
        if self is Told.REQUESTER_AND_ASSIGNEE and (
            to.assignee is None or to.status is not RequestStatus.ACTIVE
        ):
            return Told.REQUESTER
        return self


@dataclass(frozen=True)
class Command:
    """The action's `python -m bot stuck <name>` sub-command."""

    name: str
    help: str


def always(situation: Situation) -> bool:
    return True


def never(situation: Situation) -> bool:
    return False


@dataclass(frozen=True)
class ActionSpec:
    """One recovery action: everything the services, the screens and the command line ask."""

    label: str  # N_() msgid: the button, the confirmation and the log
    risk: Risk  # support may run only low-risk actions
    move: Move
    told: Told
    transition: TransitionAction | None  # the history row; None: the request does not move
    available: Callable[[Situation], bool]  # for an active request; the roles come after
    bulk: bool = False  # may run over many stuck requests at once
    offered: bool = True  # False: logged by the system, never a button
    command: Command | None = None

    def __post_init__(self) -> None:
        # A row that could only half work is refused at import, not met in production.
        if (self.transition is None) != (self.move is Move.STAY):
            raise ValueError("a move writes a history row; staying writes none")
        if self.bulk and (self.needs_target or not self.offered):
            raise ValueError("a bulk action is offered and picks nobody by hand")

    @property
    def needs_target(self) -> bool:
        """The admin picks a person (the screen lists candidates, the command line: --to)."""
        return self.move is Move.CHOSEN_HOLDER


# The order is the order of the buttons.
SPECS: dict[RecoveryAction, ActionSpec] = {
    RecoveryAction.NUDGE: ActionSpec(
        label=N_("Nudge the assignee"),
        risk=Risk.LOW,
        move=Move.STAY,
        told=Told.ASSIGNEE_REMINDER,
        transition=None,
        available=lambda s: s.stage_known and s.has_assignee,
        bulk=True,
        command=Command("nudge", "remind the assignee"),
    ),
    RecoveryAction.REASSIGN: ActionSpec(
        label=N_("Reassign"),
        risk=Risk.MEDIUM,
        move=Move.CHOSEN_HOLDER,
        told=Told.REQUESTER_AND_ASSIGNEE,
        transition=TransitionAction.REASSIGN,
        available=lambda s: s.stage_known,
        command=Command("reassign", "give the request to another holder of the stage's role"),
    ),
    RecoveryAction.RESET: ActionSpec(
        label=N_("Reset to the previous stage"),
        risk=Risk.HIGH,
        move=Move.BACK,
        told=Told.REQUESTER_AND_ASSIGNEE,
        transition=TransitionAction.RESET,
        available=lambda s: s.has_previous,
        bulk=True,
        command=Command("reset", "send the request back to its previous stage"),
    ),
    RecoveryAction.FORCE_TRANSITION: ActionSpec(
        label=N_("Force to the next stage"),
        risk=Risk.HIGH,
        move=Move.FORWARD,
        told=Told.REQUESTER_AND_ASSIGNEE,
        transition=TransitionAction.FORCE_TRANSITION,
        available=lambda s: s.has_next,
        bulk=True,
        command=Command("transition", "force the request to the next stage"),
    ),
    RecoveryAction.FORCE_COMPLETE: ActionSpec(
        label=N_("Force complete"),
        risk=Risk.HIGH,
        move=Move.COMPLETE,
        told=Told.REQUESTER,
        transition=TransitionAction.FORCE_COMPLETE,
        available=always,  # also when its stage is gone: finishing it is what still works
        bulk=True,
        command=Command("complete", "force the request to completed"),
    ),
    RecoveryAction.ESCALATE: ActionSpec(
        label=N_("Escalated to admins"),
        risk=Risk.LOW,  # the stuck detector logs its nudges and escalations with their rows' risk
        move=Move.STAY,
        told=Told.ADMINS,
        transition=None,
        available=never,
        offered=False,
    ),
}


def spec(action: RecoveryAction) -> ActionSpec:
    return SPECS[action]


def may_run(roles: frozenset[Role], action: RecoveryAction) -> bool:
    """Admins may do everything; support only what carries a low risk."""
    if Role.ADMIN in roles:
        return True
    return Role.SUPPORT in roles and SPECS[action].risk is Risk.LOW


def offered_actions(situation: Situation) -> list[RecoveryAction]:
    """The offered actions that make sense in this situation, in button order."""
    return [a for a, s in SPECS.items() if s.offered and s.available(situation)]


def bulk_actions() -> list[RecoveryAction]:
    return [a for a, s in SPECS.items() if s.offered and s.bulk]
