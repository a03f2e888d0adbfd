"""The simulators sit beside the product: the product never imports them, and they hold no circle.

Read from the source with `ast` (every import counts: module level, function-local and under
`TYPE_CHECKING`), so a wrong import fails here even before the import contract runs."""

from __future__ import annotations

import ast
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from tests.support.imports import ROOT, imports, module_name

PRODUCT = ("bot", "core", "database", "handlers", "middlewares", "outbox", "services", "utils")


def allowed() -> set[tuple[str, str, str]]:
    """The contract's listed exception (pyproject.toml): `python -m bot sandbox` and `python -m
    bot chaos` (SPEC §4) load their simulator in `dispatch`, when they run."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    [contract] = (
        c for c in config["tool"]["importlinter"]["contracts"] if c["id"] == "no-simulators"
    )
    listed = {tuple(line.split(" -> ")) for line in contract["ignore_imports"]}
    assert {importer for importer, _ in listed} == {"bot.cli"}
    return {("bot/cli/__init__.py", "dispatch", imported) for _, imported in listed}


SIMULATOR_MODULE = re.compile(r"simulators(\.\w+)*")


def sources(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.relative_to(ROOT).parts:
            yield path


def test_the_product_imports_no_simulator_but_its_two_commands() -> None:
    found = set()
    for package in PRODUCT:
        for path in sources(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(ROOT).as_posix()
            for function, module in imports(tree, module_name(path)):
                if module == "simulators" or module.startswith("simulators."):
                    found.add((where, function, module))
            # importlib.import_module("simulators...") would hide an import from the walk above.
            names = [
                node.value
                for node in ast.walk(tree)
                if isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and SIMULATOR_MODULE.fullmatch(node.value)
            ]
            assert not names, f"{where} names a simulator module: {names}"
    assert found == allowed()
    assert len(found) == 2


def simulator_graph() -> dict[str, set[str]]:
    paths = {module_name(path): path for path in sources("simulators")}
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # "from simulators.chaos import audit" imports the module audit, not the package.
        found = imports(tree, name, members=True)
        graph[name] = {module for _, module in found if module in paths} - {name}
    return graph


def test_the_simulators_have_no_import_circle() -> None:
    graph = simulator_graph()
    assert "simulators.chaos.report_checks" in graph  # the walk found the package
    done: set[str] = set()

    def walk(module: str, path: list[str]) -> None:
        if module in path:
            cycle = " → ".join([*path[path.index(module) :], module])
            raise AssertionError(f"import circle: {cycle}")
        if module in done:
            return
        for target in sorted(graph[module]):
            walk(target, [*path, module])
        done.add(module)

    for module in sorted(graph):
        walk(module, [])
