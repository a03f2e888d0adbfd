"""The chaos run: the real application on a simulated clock, seeded faults, a measured report.

Layers inside, imports only downward: `command` (`python -m bot chaos`) → `run` (the day) →
`report_checks` (after the day: what needs a person, the ledger of loss) → `inject` and `menu`
(what is injected, the admin's look at the menu) → `faults` and `people` (the faults themselves,
what people do) → `audit` (figures from the database and the local Bot API, never from the code
under test) → `world` (the app, its jobs, restarts) → `simclock`, `session`, `pgproxy`, `model`
(incidents, the report)."""
