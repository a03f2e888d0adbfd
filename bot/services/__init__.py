"""Services own the transactions; handlers and the CLI call them."""
