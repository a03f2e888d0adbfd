"""The house's rules, checked: the import-linter contract in pyproject.toml holds, and it breaks
on exactly the imports it forbids; no handler module imports another handler module."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.imports import ROOT, imports, module_name

PACKAGES = (
    "simulators",
    "bot",
    "middlewares",
    "handlers",
    "services",
    "outbox",
    "database",
    "core",
    "utils",
)
LINT = Path(sys.executable).with_name("lint-imports")
LAYERS = "Layers: a folder imports only the folders below it"
NO_SIMULATORS = "The product never imports a simulator"
NO_CIRCLES = "No import circle, at any depth"
SCREENS = "Handlers: screen modules above the pieces they share, none importing another"
SECTIONS = "Staff sections: each section one room, none importing another"


def lint(where: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT), "--no-cache", "--no-logo"],
        cwd=where,
        # The copy's packages come first: the editable install's finder is consulted last.
        env={**os.environ, "PYTHONPATH": str(where)},
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


@pytest.fixture(scope="module")
def house(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the packages and the contract, to break on purpose."""
    copy = tmp_path_factory.mktemp("house")
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            copy / package,
            ignore=shutil.ignore_patterns("__pycache__", "static", "versions"),
        )
    return copy


def test_the_contract_holds() -> None:
    done = lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


@pytest.mark.parametrize(
    ("file", "line", "broken", "shown"),
    [
        # A lower layer reaching up.
        ("database/engine.py", "import services.users", LAYERS, "database.engine ->"),
        ("core/clock.py", "import database.base", LAYERS, "core.clock ->"),
        ("utils/backoff.py", "import core.clock", LAYERS, "utils.backoff ->"),
        ("outbox/sender.py", "import services.users", LAYERS, "outbox.sender ->"),
        # The product reaching a simulator outside the two listed lazy commands.
        (
            "bot/runner.py",
            "import simulators.local_api",
            NO_SIMULATORS,
            "bot.runner -> simulators.local_api",
        ),
        # One screen module, or one staff section, reaching into another.
        ("handlers/requests.py", "import handlers.approvals", SCREENS, "handlers.requests ->"),
        (
            "handlers/admin/log/view.py",
            "import handlers.admin.recovery.menu",
            SECTIONS,
            "handlers.admin.log.view -> handlers.admin.recovery.menu",
        ),
        (
            "handlers/admin/screens.py",
            "import handlers.admin.inventory.texts",
            SECTIONS,
            "handlers.admin.screens -> handlers.admin.inventory.texts",
        ),
        # A circle, even one inside a layer (and even behind TYPE_CHECKING).
        (
            "core/messages.py",
            "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    import core.exceptions",
            NO_CIRCLES,
            ".messages -> .exceptions",
        ),
    ],
)
def test_a_wrong_import_breaks_it(
    house: Path, file: str, line: str, broken: str, shown: str
) -> None:
    target = house / file
    original = target.read_text(encoding="utf-8")
    if broken == NO_CIRCLES:  # the other half of the circle is there already
        assert "from core.messages import" in (house / "core/exceptions.py").read_text("utf-8")
    target.write_text(original + "\n" + line + "\n", encoding="utf-8")
    try:
        done = lint(house)
    finally:
        target.write_text(original, encoding="utf-8")
    assert done.returncode == 1, done.stdout
    assert f"{broken} BROKEN" in done.stdout
    assert shown in done.stdout


def _handler_modules() -> dict[str, ast.Module]:
    """Modules that register routes: a module-level `routes = RouteTable(...)`."""
    found = {}
    for path in sorted((ROOT / "handlers").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        module = module_name(path)
        for node in tree.body:
            if (
                isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "routes" for t in node.targets)
                and isinstance(node.value, ast.Call)
                and getattr(node.value.func, "id", None) == "RouteTable"
            ):
                found[module] = tree
    return found


def test_no_handler_module_imports_another() -> None:
    handlers = _handler_modules()
    assert len(handlers) >= 10, sorted(handlers)  # the rule must see the screens at all
    crossings = {
        module: sorted(
            {name for _, name in imports(tree, module, members=True)}
            & (handlers.keys() - {module})
        )
        for module, tree in handlers.items()
    }
    assert {m: c for m, c in crossings.items() if c} == {}
