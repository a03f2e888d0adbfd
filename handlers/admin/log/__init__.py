"""The recovery log, by person or by request (view.py), reached from the /workflow_recovery
menu."""

from handlers.admin.log import view

# Its route tables, in the order the staff router tries them, and its confirmations' appliers.
TABLES = (view.routes,)
APPLIERS = ()
