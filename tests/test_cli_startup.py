"""The command line answers --help, argument errors and configuration errors without loading
aiogram or SQLAlchemy (seconds of import an operator would wait for); figures in
benchmarks/bench_cli_start.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROBE = """
import json, sys
from bot.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
loaded = sorted(m for m in ("aiogram", "sqlalchemy") if m in sys.modules)
print(json.dumps({"code": code, "loaded": loaded}), file=sys.stderr)
"""


def probe(args: list[str], **env: str) -> tuple[int, list[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=ROOT,
        env={**os.environ, "BOT_TOKEN": "", **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    *messages, last = done.stderr.strip().splitlines()
    result = json.loads(last)
    return result["code"], result["loaded"], done.stdout + "\n".join(messages)


@pytest.mark.parametrize(
    ("args", "env", "code", "says"),
    [
        (["--help"], {}, 0, "Workflow recovery bot and its operator tools."),
        # The recovery sub-commands come from services/recovery/spec.py's table.
        (["stuck", "--help"], {}, 0, "give the request to another holder of the stage's role"),
        (["stuck", "show", "abc"], {}, 2, "'abc' is not a whole number"),
        (["users", "grant", "7", "boss"], {}, 2, "unknown role 'boss'"),
        (["migrate"], {"DATABASE_URL": "mysql://x"}, 2, "DATABASE_URL: Value error, must start"),
        (["migrate"], {"OUTBOX_MAX_ATTEMPTS": "many"}, 2, "OUTBOX_MAX_ATTEMPTS"),
    ],
)
def test_answers_without_loading_aiogram_or_sqlalchemy(
    args: list[str], env: dict[str, str], code: int, says: str
) -> None:
    got, loaded, output = probe(args, **env)
    assert (got, loaded) == (code, [])
    assert says in output
