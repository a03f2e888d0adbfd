"""Inventory reconciliation: /reconcile, its preview, apply, findings and history
(reconcile.py), and the manual count (count.py); texts.py is shared with the command line."""

from handlers.admin.inventory import count, reconcile

# Its route tables, in the order the staff router tries them, and its confirmations' appliers.
TABLES = (reconcile.routes, count.routes)
APPLIERS = (*reconcile.APPLIERS, *count.APPLIERS)
