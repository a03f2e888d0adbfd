"""System health: the screen of the /workflow_recovery menu and /health (screen.py); texts.py
is shared with the command line."""

from handlers.admin.health import screen

# Its route tables, in the order the staff router tries them, and its confirmations' appliers.
TABLES = (screen.routes,)
APPLIERS = ()
