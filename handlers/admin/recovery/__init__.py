"""/workflow_recovery: the main menu (menu.py), the stuck requests (stuck.py), one recovery
action — choose, give a reason, confirm (action.py) — and a bulk action with its job (bulk.py).
Their shared screens are screens.py and texts.py; the action being prepared is pending.py."""

from handlers.admin.recovery import action, bulk, menu, stuck

# Its route tables, in the order the staff router tries them, and its confirmations' appliers.
TABLES = (menu.routes, stuck.routes, action.routes, bulk.routes)
APPLIERS = (*action.APPLIERS, *bulk.APPLIERS)
