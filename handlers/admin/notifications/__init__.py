"""Notification retries: /notifications, its lists and rows, retry and discard (queue.py) and
their screens (screens.py)."""

from __future__ import annotations

from handlers.admin.confirm import Applies
from handlers.routes import RouteTable


def tables() -> tuple[RouteTable, ...]:
    from handlers.admin.notifications import queue

    return (queue.routes,)


def appliers() -> tuple[Applies, ...]:
    from handlers.admin.notifications import queue

    return queue.APPLIERS
