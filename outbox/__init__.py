"""The notification outbox: services write rows with `enqueue(payload)` in their own transaction,
one typed payload per kind (payloads.py); the sender delivers them after the commit, rendered in
the recipient's language (render.py, one renderer per kind in renderers.py)."""
