"""Errors: the statistics, one record and marking it resolved (records.py, reached from the
/workflow_recovery menu), and /error CODE (lookup.py)."""

from handlers.admin.errors import lookup, records

# /error is tried before every section, so it answers also in the middle of a typed step;
# then its screens, in the order the staff router tries them, and its confirmations' appliers.
COMMANDS = (lookup.routes,)
TABLES = (records.routes,)
APPLIERS = records.APPLIERS
