"""`python -m bot chaos`: a simulated working day with seeded faults, and what recovered."""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from pathlib import Path

from bot.cli.exits import EXIT_FAILED, EXIT_OK
from core.settings import Settings


async def chaos_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chaos.printing import render
    from bot.chaos.run import Run

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
    return EXIT_OK if not summary["data_lost"] and not summary["false_positives"] else EXIT_FAILED
