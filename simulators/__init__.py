"""Simulators beside the product: the local Bot API, the sandbox, the chaos run, the catalog tool.

They import the product's building blocks (bot.factory, bot.runner, bot.scheduler, services,
core, database); the product never imports them, except `python -m bot sandbox` and
`python -m bot chaos`, which bot/cli loads lazily when those commands run."""
