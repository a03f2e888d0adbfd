"""The imports of a source file, read with `ast`: every one counts, at module level, inside a
function, under `TYPE_CHECKING`; what the import-linter contract sees, and where it sits."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def imports(tree: ast.Module, module: str, *, members: bool = False) -> Iterator[tuple[str, str]]:
    """(the top-level function an import sits in, or "" at module level; the module it
    imports). Relative imports are resolved against `module`. With `members`, `from a import b`
    also yields "a.b" (b may be a module)."""
    package = module.rsplit(".", 1)[0]

    def visit(node: ast.AST, function: str) -> Iterator[tuple[str, str]]:
        for child in ast.iter_child_nodes(node):
            inside = function
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef) and not function:
                inside = child.name
            if isinstance(child, ast.Import):
                for alias in child.names:
                    yield function, alias.name
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    parts = package.split(".")[: len(package.split(".")) - child.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                yield function, base
                for alias in child.names if members else ():
                    yield function, f"{base}.{alias.name}"
            yield from visit(child, inside)

    return visit(tree, "")
