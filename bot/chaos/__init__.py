"""The chaos run: the real application on a simulated clock, seeded faults, a measured report.

Layers inside, imports only downward: `cli` (bot/cli/chaos.py) → `run` (the day) → `faults`
and `people` (what is injected and what people do) → `audit` (figures from the database and
the local Bot API, never from the code under test) → `world` (the app, its jobs, restarts) →
`simclock`, `pgproxy`, `model` (incidents, the report)."""
