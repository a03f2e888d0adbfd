"""Every setting is in the README's table and in .env.example, and neither names one that does
not exist: the three are kept in step by this test."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from core.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def setting_names() -> set[str]:
    """Environment names: a top-level field, or a group's PREFIX_FIELD."""
    names: set[str] = set()
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, BaseModel):
            names |= {f"{name}_{sub}".upper() for sub in group.model_fields}
        else:
            names.add((field.alias or name).upper())
    return names


def readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    # One table: it ends at the first blank line, so a row cut off from it does not count.
    table = section[section.index("| variable |") :].split("\n\n", 1)[0]
    names: set[str] = set()
    for first in re.findall(r"^\| (`[A-Z_]+`(?:, `[A-Z_]+`)*) \|", table, flags=re.MULTILINE):
        names |= set(re.findall(r"`([A-Z_]+)`", first))
    return names


def env_example() -> set[str]:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    return set(re.findall(r"^#? ?([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_the_readme_table_lists_every_setting_in_one_table() -> None:
    assert readme_table() == setting_names()


def test_env_example_names_every_setting() -> None:
    assert env_example() == setting_names()
