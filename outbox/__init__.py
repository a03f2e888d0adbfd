"""The notification outbox: services write rows with `enqueue` in their own transaction; the
sender delivers them after the commit, rendered in the recipient's language."""
