"""The sandbox: the whole bot behind a web chat in the browser, no Telegram account needed.

An entry point like the command line (it may import the factory, the services and the local
Bot API server); nothing below `bot/` imports it. `python -m bot sandbox` runs it."""
