"""The simulators sit beside the product: the product never imports them, and they hold no circle.

Read from the source with `ast` (every import counts: module level, function-local and under
`TYPE_CHECKING`), so a wrong import fails here even before the import contract runs."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "core", "database", "handlers", "middlewares", "outbox", "services", "utils")
# `python -m bot sandbox` and `python -m bot chaos` (SPEC §4) load their simulator when they run.
ALLOWED = {
    ("bot/cli/__init__.py", "dispatch", "simulators.sandbox.main"),
    ("bot/cli/__init__.py", "dispatch", "simulators.chaos.command"),
}
SIMULATOR_MODULE = re.compile(r"simulators(\.\w+)*")


def sources(package: str) -> Iterator[Path]:
    for path in sorted((ROOT / package).rglob("*.py")):
        if "migrations" not in path.relative_to(ROOT).parts:
            yield path


def imports(tree: ast.Module, *, members: bool = False) -> Iterator[tuple[str, str]]:
    """(the function an import sits in, or "" at module level; the module it imports). With
    `members`, `from a import b` also yields "a.b" (b may be a module)."""

    def visit(node: ast.AST, function: str) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            inside = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and not function:
                inside = child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield function, alias.name
            elif isinstance(child, ast.ImportFrom) and child.module and not child.level:
                yield function, child.module
                for alias in child.names if members else ():
                    yield function, f"{child.module}.{alias.name}"
            yield from visit(child, inside)

    return visit(tree, "")


def test_the_product_imports_no_simulator_but_its_two_commands() -> None:
    found = set()
    for package in PRODUCT:
        for path in sources(package):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            where = path.relative_to(ROOT).as_posix()
            for function, module in imports(tree):
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
    assert found == ALLOWED


def simulator_graph() -> dict[str, set[str]]:
    paths = {
        ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): path
        for path in sources("simulators")
    }
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        # "from simulators.chaos import audit" imports the module audit, not the package.
        graph[name] = {module for _, module in imports(tree, members=True) if module in paths} - {
            name
        }
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
