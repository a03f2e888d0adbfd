"""How long the command line takes to answer before it does any work, against importing aiogram.

Each case starts a fresh interpreter (what an operator waits for), best of several runs:
`--help`, an argument error, a configuration error, and, as the baseline, a bare
`python -c "import aiogram.types"`. The target (issue 12): each at least twice as fast as the
baseline.

Run from the project root: .venv/bin/python benchmarks/bench_cli_start.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES: list[tuple[str, list[str], dict[str, str]]] = [
    ('python -c "import aiogram.types" (baseline)', ["-c", "import aiogram.types"], {}),
    ("python -m bot --help", ["-m", "bot", "--help"], {}),
    ("argument error: stuck show abc", ["-m", "bot", "stuck", "show", "abc"], {}),
    (
        "config error: DATABASE_URL=mysql://x",
        ["-m", "bot", "migrate"],
        {"DATABASE_URL": "mysql://x"},
    ),
]


def best_seconds(args: list[str], extra_env: dict[str, str], runs: int) -> float:
    env = {**os.environ, **extra_env, "PYTHONDONTWRITEBYTECODE": "1"}
    best = float("inf")
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, check=False
        )
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per case (best is shown)")
    runs = parser.parse_args().runs
    if runs < 1:
        parser.error("--runs must be at least 1")
    results = [(name, best_seconds(args, env, runs)) for name, args, env in CASES]
    baseline = results[0][1]
    print(f"best of {runs} fresh interpreters each; target: at most half the baseline")
    print(f"{'case':<48} {'seconds':>8} {'vs baseline':>12}  target")
    for name, seconds in results:
        ratio = seconds / baseline
        verdict = "" if seconds == baseline else ("met" if ratio <= 0.5 else "MISSED")
        print(f"{name:<48} {seconds:>8.3f} {ratio:>11.2f}×  {verdict}")


if __name__ == "__main__":
    main()
