"""Errors: the statistics, one record and marking it resolved (records.py, reached from the
/workflow_recovery menu), and /error CODE (lookup.py)."""

from handlers.admin.errors import lookup, records

# Its route tables, in the order the staff router tries them, and its confirmations' appliers.
TABLES = (lookup.routes, records.routes)
APPLIERS = records.APPLIERS
