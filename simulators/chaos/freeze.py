"""Freezing one task of the app just before its n-th SQL statement: where a kill lands.

Counting event-loop turns made a kill's moment depend on how fast the file or the socket
answered, so two runs of one seed differed; a statement count is the same in every run.
The frozen task waits inside SQLAlchemy's greenlet (its transaction open, statement n not
sent) until the process is killed around it."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable, Coroutine
from typing import Any

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

_SCOPE: contextvars.ContextVar[StatementGate | None] = contextvars.ContextVar(
    "chaos_gate", default=None
)


class StatementGate:
    def __init__(self, engine: AsyncEngine, statement: int) -> None:
        self.engine, self.statement = engine, statement
        self.count = 0
        self.reached = False
        # Also required before freezing (checked at each statement): a condition outside SQL.
        self.ready: Callable[[], bool] = lambda: True
        self._never: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        event.listen(engine.sync_engine, "before_cursor_execute", self._before)

    def _before(self, *_: Any) -> None:
        if _SCOPE.get() is not self or self.reached:
            return
        self.count += 1
        if self.count >= self.statement and self.ready():
            self.reached = True
            await_only(self._never)  # frozen here until the kill cancels the task

    def task(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        """`work` in a task whose statements (and its children's) this gate counts."""

        async def scoped() -> Any:
            _SCOPE.set(self)
            return await work

        return asyncio.create_task(scoped())

    def close(self) -> None:
        if event.contains(self.engine.sync_engine, "before_cursor_execute", self._before):
            event.remove(self.engine.sync_engine, "before_cursor_execute", self._before)
