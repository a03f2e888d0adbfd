"""Running alembic from code: `python -m bot migrate`, start-up and the tests use this."""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from database.engine import ensure_sqlite_dir

ROOT = Path(__file__).resolve().parent.parent
logger = logging.getLogger(__name__)


def alembic_config(database_url: str) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "database" / "migrations"))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> str | None:
    """Bring the schema to `revision` and return the revision it is at now. Runs its own
    event loop: call it outside one."""
    ensure_sqlite_dir(database_url)
    config = alembic_config(database_url)
    command.upgrade(config, revision)
    if revision != "head":
        return revision
    head = ScriptDirectory.from_config(config).get_current_head()
    logger.info("database schema at revision %s (the latest)", head)
    return head


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
