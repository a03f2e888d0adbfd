"""The stuck-request queries: each condition a set of ranges of one index, built once.

A request is stuck when it is active and (a) has been in its stage since before the stage's
`stuck_after`, (b) its assignee is gone — none, or not an active holder of the stage's role —
or (c) its workflow or stage is no longer in the workflow file. Written the obvious way ("late
OR assignee not in holders"), the database must test every active request. Here:

- (a) per stage is one range of ix_requests_stuck (status, workflow, stage, stage_entered_at,
  id), read in the screen's order;
- (b) per stage is a few ranges of ix_requests_assignee (status, workflow, stage, assignee_id,
  stage_entered_at, id): NULL, and the gaps between the role's active holders' ids (a
  handful of people), the gaps a small table of rows joined to the index so that each is
  one range read from the index alone;
- (c) is the gaps between the file's workflow and stage keys, on the same indexes.

So the work is proportional to the stuck requests, not to the active ones. (a) and (b)
overlap: the page takes the UNION of each part's first rows, the count adds the late ones to
the gone ones that are not late. Building ~100 ranges costs milliseconds in
SQLAlchemy, so the statements are kept per (filter, holders) with the cut-off times as bound
parameters; the cache is small because holders change rarely.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    Subquery,
    and_,
    bindparam,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import union as sql_union
from sqlalchemy import union_all as sql_union_all
from sqlalchemy.ext.asyncio import AsyncSession

from core.enums import RequestStatus, Role
from core.workflows import WorkflowRegistry
from database.models import Request, StuckMark, User, UserRole
from utils.digits import INT_MAX

REQUESTS = Request.__table__.c
CACHED = 32  # (filter, holders) combinations kept; cleared when full


def outside(
    column: ColumnElement[Any], values: Iterable[Any], within: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """`within AND column NOT IN values` (NULL excluded) as the open ranges between the sorted
    values, each arm repeating `within`: so each is one range of a btree over (within's
    columns, column), where NOT IN would be tested on every row `within` matches."""
    edges = sorted(set(values))
    if not edges:
        return [and_(within, column.is_not(None))]
    ranges = [column < edges[0], column > edges[-1]]
    ranges += [and_(column > low, column < high) for low, high in pairwise(edges)]
    return [and_(within, r) for r in ranges]


Holders = dict[Role, tuple[int, ...]]
# Below and above every id: the first and the last gap's open ends.
LOWEST, HIGHEST = -INT_MAX - 1, INT_MAX


def gap_table(holders: Iterable[int]) -> Subquery:
    """The open ranges of ids between the sorted holders' ids, as rows (low, high)."""
    edges = [LOWEST, *sorted(set(holders)), HIGHEST]
    rows = [
        select(literal(low, Integer).label("low"), literal(high, Integer).label("high"))
        for low, high in pairwise(edges)
    ]
    return (sql_union_all(*rows) if len(rows) > 1 else rows[0]).subquery()


def in_gap(here: ColumnElement[bool], gaps: Subquery) -> ColumnElement[bool]:
    return and_(here, REQUESTS.assignee_id > gaps.c.low, REQUESTS.assignee_id < gaps.c.high)


def gaps_count(
    here: ColumnElement[bool], recent: ColumnElement[bool], holders: Iterable[int]
) -> ColumnElement[int]:
    """How many of `here` that are `recent` have an assignee id between two holders' ids.

    Each gap is counted by a subquery that is one range of ix_requests_assignee (status,
    workflow, stage, assignee_id, stage_entered_at, id): read from the index alone. The same
    gaps OR-ed in one WHERE are a bitmap scan, which visits a table page for every gone
    request to read its stage_entered_at."""
    gaps = gap_table(holders)
    per_gap = select(func.count().filter(recent)).where(in_gap(here, gaps)).scalar_subquery()
    return select(func.coalesce(func.sum(per_gap), 0)).select_from(gaps).scalar_subquery()


def gaps_rows(here: ColumnElement[bool], holders: Iterable[int]) -> Select[Any]:
    """(id, stage_entered_at) of `here` with an assignee id between two holders' ids: the
    gaps joined to the requests, one index-only range per gap, for the page."""
    gaps = gap_table(holders)
    c = REQUESTS
    return (
        select(c.id, c.stage_entered_at)
        .select_from(gaps)
        .join(Request.__table__, in_gap(here, gaps))
    )


async def active_holders(session: AsyncSession) -> Holders:
    """Active holders of each role: the only assignees that are not "gone"."""
    rows = await session.execute(
        select(UserRole.role, UserRole.user_id)
        .join(User, User.id == UserRole.user_id)
        .where(User.is_active.is_(True))
        .order_by(UserRole.role, UserRole.user_id)
    )
    holders: dict[Role, list[int]] = {}
    for role, user_id in rows:
        holders.setdefault(role, []).append(user_id)
    return {role: tuple(ids) for role, ids in holders.items()}


async def marks_for(session: AsyncSession, request_ids: Sequence[int]) -> Sequence[StuckMark]:
    """The stuck marks of these requests, every period's."""
    rows = await session.execute(select(StuckMark).where(StuckMark.request_id.in_(request_ids)))
    return rows.scalars().all()


@dataclass(frozen=True)
class StuckStatements:
    where: ColumnElement[bool]  # every part OR-ed: for loading them all
    count: Select[Any]
    page: Select[Any]  # ids, oldest first; parameters window, skip, size
    cutoffs: dict[str, timedelta]  # bound parameter -> the stage's stuck_after

    def params(self, now: datetime, **more: int) -> dict[str, Any]:
        return {name: now - after for name, after in self.cutoffs.items()} | more


class StuckQueries:
    def __init__(self, workflows: WorkflowRegistry) -> None:
        self.workflows = workflows
        self._built: dict[tuple[str | None, str | None, tuple[Any, ...]], StuckStatements] = {}

    def statements(
        self, workflow: str | None, stage: str | None, holders: Holders
    ) -> StuckStatements:
        key = (workflow, stage, tuple(sorted(holders.items())))
        built = self._built.get(key)
        if built is None:
            if len(self._built) >= CACHED:
                self._built.clear()
            built = self._built[key] = self._build(workflow, stage, holders)
        return built

    async def page_ids(
        self, session: AsyncSession, built: StuckStatements, now: datetime, offset: int, limit: int
    ) -> list[int]:
        params = built.params(now, window=offset + limit, skip=offset, size=limit)
        return list(await session.scalars(built.page, params))

    async def count(self, session: AsyncSession, built: StuckStatements, now: datetime) -> int:
        return int(await session.scalar(built.count, built.params(now)) or 0)

    @staticmethod
    async def load(session: AsyncSession, ids: Sequence[int]) -> Sequence[Request]:
        """The requests a page found, in no particular order."""
        rows = await session.execute(select(Request).where(Request.id.in_(ids)))
        return rows.unique().scalars().all()

    async def requests(
        self, session: AsyncSession, built: StuckStatements, now: datetime
    ) -> Sequence[Request]:
        query = select(Request).where(built.where).order_by(Request.stage_entered_at, Request.id)
        return (await session.execute(query, built.params(now))).unique().scalars().all()

    async def ids(self, session: AsyncSession, built: StuckStatements, now: datetime) -> list[int]:
        """Every stuck request's id, in id order: the stuck check's work list (its rows are
        loaded a chunk at a time, `chunk`)."""
        query = select(Request.id).where(built.where).order_by(Request.id)
        return list(await session.scalars(query, built.params(now)))

    async def chunk(
        self, session: AsyncSession, built: StuckStatements, now: datetime, ids: Sequence[int]
    ) -> Sequence[Request]:
        """Those of `ids` that are still stuck, in id order."""
        if not ids:
            return []
        query = select(Request).where(Request.id.in_(ids), built.where).order_by(Request.id)
        return (await session.execute(query, built.params(now))).unique().scalars().all()

    def _build(self, workflow: str | None, stage: str | None, holders: Holders) -> StuckStatements:
        c = REQUESTS  # the table's columns: cheaper to build with than the ORM's attributes
        active = c.status == RequestStatus.ACTIVE
        parts: list[ColumnElement[bool]] = []
        counts: list[ColumnElement[int]] = []
        pieces: list[Select[Any]] = []
        cutoffs: dict[str, timedelta] = {}
        for flow in self.workflows.workflows:
            if workflow and flow.key != workflow:
                continue
            for step in flow.stages:
                if stage and step.key != stage:
                    continue
                here = and_(active, c.workflow == flow.key, c.stage == step.key)
                name = f"cutoff_{len(cutoffs)}"
                cutoffs[name] = step.stuck_after
                late = and_(here, c.stage_entered_at <= bindparam(name))
                gone = or_(
                    and_(here, c.assignee_id.is_(None)),
                    *outside(c.assignee_id, holders.get(step.role, ()), here),
                )
                parts += [late, gone]
                # The page's pieces: a late one gives at most offset + limit rows, in index
                # order. The gone ones are few and read whole: with ORDER BY ... LIMIT on them
                # the planner would walk the stage's requests by time, hoping to meet a gone
                # one soon. Each is index ranges read from the index alone.
                window = (
                    select(c.id, c.stage_entered_at)
                    .where(late)
                    .order_by(c.stage_entered_at, c.id)
                    .limit(bindparam("window", type_=Integer))
                    .subquery()
                )
                role_holders = holders.get(step.role, ())
                pieces += [
                    select(window.c.id, window.c.stage_entered_at),
                    select(c.id, c.stage_entered_at).where(here, c.assignee_id.is_(None)),
                    gaps_rows(here, role_holders),
                ]
                # Counted apart, so no UNION has to hash every stuck id: the gone ones that
                # are not late as well. A FILTER, not a WHERE, so the planner still reads the
                # gone ranges instead of walking the stage's recent requests by time.
                recent = c.stage_entered_at > bindparam(name)
                counts.append(select(func.count()).where(late).scalar_subquery())
                counts.append(
                    select(func.count().filter(recent))
                    .where(here, c.assignee_id.is_(None))
                    .scalar_subquery()
                )
                counts.append(gaps_count(here, recent, role_holders))
        if not stage:
            # A stage (or workflow) removed from the file: nobody can act on it.
            unknown = or_(false(), *self._unknown_stage(workflow, active))
            parts.append(unknown)
            pieces.append(select(c.id, c.stage_entered_at).where(unknown))
            counts.append(select(func.count()).where(unknown).scalar_subquery())
        if not pieces:  # a filter naming a stage that is not in the file
            parts.append(false())
            pieces.append(select(c.id, c.stage_entered_at).where(false()))
        # The page is the first of the union (a late request may be gone too: UNION).
        union = sql_union(*pieces).subquery()
        page = (
            select(union.c.id)
            .order_by(union.c.stage_entered_at, union.c.id)
            .offset(bindparam("skip", type_=Integer))
            .limit(bindparam("size", type_=Integer))
        )
        count = select(functools.reduce(operator.add, counts) if counts else literal(0))
        return StuckStatements(or_(false(), *parts), count, page, cutoffs)

    def _unknown_stage(
        self, workflow: str | None, active: ColumnElement[bool]
    ) -> list[ColumnElement[bool]]:
        c = REQUESTS
        every = self.workflows.workflows
        shown = [w for w in every if not workflow or w.key == workflow]
        unknown: list[ColumnElement[bool]] = []
        if not workflow:
            unknown += outside(c.workflow, [w.key for w in every], active)
        elif not shown:  # the filter's workflow is no longer in the file
            unknown.append(and_(active, c.workflow == workflow))
        for flow in shown:
            # No "stage IS NULL" arm: an active request always has a stage (the services set
            # both together), and PostgreSQL would estimate that arm from the finished rows'
            # NULLs and walk every active request instead.
            this = and_(active, c.workflow == flow.key)
            unknown += outside(c.stage, [s.key for s in flow.stages], this)
        return unknown
