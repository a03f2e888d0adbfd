"""The sandbox: the whole bot behind a web chat in the browser, no Telegram account needed.

A simulator beside the product: it imports the runner, the services and the local Bot API
server; the product never imports it, but for `python -m bot sandbox`, which the command line
loads lazily."""
