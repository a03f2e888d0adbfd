"""Notification retries: /notifications, its lists and rows, retry and discard (queue.py) and
their screens (screens.py)."""

from handlers.admin.notifications import queue

# Its route tables, in the order the staff router tries them, and its confirmations' appliers.
TABLES = (queue.routes,)
APPLIERS = queue.APPLIERS
