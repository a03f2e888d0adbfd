"""`python -m bot chaos`: a simulated working day with seeded faults, and what recovered."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

from core.settings import Settings
from simulators.chaos.printing import render
from simulators.chaos.run import Run


async def chaos_command(args: argparse.Namespace, settings: Settings) -> bool:
    """Runs the day and prints its report; True when nothing was lost and nothing falsely
    reported (the command line exits 0 then, 1 otherwise)."""
    # The app's own log would drown the report: only its warnings and errors are shown.
    logging.getLogger().setLevel(max(logging.WARNING, logging.getLogger().level))
    url = settings.database_url_value
    with tempfile.TemporaryDirectory(prefix="chaos-") as folder:
        report = await Run(args.seed, args.requests, args.hours, Path(folder), url).execute()
    print(render(report))
    if args.json is not None:
        args.json.write_text(
            json.dumps(report.as_json(), indent=2, default=str) + "\n", encoding="utf-8"
        )
        print(f"\nreport written to {args.json}")
    summary = report.summary()
    return not summary["data_lost"] and not summary["false_positives"]
