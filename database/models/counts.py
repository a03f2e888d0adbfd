"""Row counts of big tables, kept exact by database triggers, so a screen's "N entries" does
not count a million rows each time it is opened.

One row per counted table in `row_counts`. The triggers live in the database, not in the
code that writes, so every path keeps the figure true: the services' inserts, retention's
deletes, an operator's `DELETE` in psql, and on PostgreSQL `TRUNCATE`:

- SQLite: a row trigger after INSERT (+1) and after DELETE (-1) on the table. (A trigger
  also turns off SQLite's "delete all rows without visiting them" shortcut.)
- PostgreSQL: statement triggers with transition tables, one `UPDATE` per statement however
  many rows it wrote, and a TRUNCATE trigger that sets the count to 0 (an upsert, so it also
  holds when `row_counts` is truncated in the same statement, as the tests do).

The counter row is updated in the writer's transaction, so a rollback undoes it too; on
PostgreSQL writers of the counted table queue on that one row until they commit.

Created with the table when the schema comes from the metadata (`create_all`, tests) and by
migration 0013 in a database that is migrated; tests/test_row_counts.py checks that both give
the same triggers. A SQLite migration that copies a counted table (batch mode) drops its
triggers: it must create them again (`trigger_sql`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, FromClause, String, Table, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base

PG_FUNCTION = "row_counts_track"


class RowCount(Base):
    __tablename__ = "row_counts"

    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger)


def trigger_sql(dialect: str, table: str) -> list[str]:
    """The statements that create the counting triggers of `table` (and, on PostgreSQL,
    the shared trigger function)."""
    name = f"trg_{table}_count"
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {name}_{event_name.lower()} AFTER {event_name} ON {table} "
            f"BEGIN UPDATE row_counts SET row_count = row_count {sign} 1 "
            f"WHERE table_name = '{table}'; END"
            for event_name, sign in (("INSERT", "+"), ("DELETE", "-"))
        ]
    return [
        PG_FUNCTION_SQL,
        f"CREATE TRIGGER {name}_insert AFTER INSERT ON {table} "
        f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()",
        f"CREATE TRIGGER {name}_delete AFTER DELETE ON {table} "
        f"REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()",
        f"CREATE TRIGGER {name}_truncate AFTER TRUNCATE ON {table} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {PG_FUNCTION}()",
    ]


PG_FUNCTION_SQL = f"""
CREATE OR REPLACE FUNCTION {PG_FUNCTION}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO row_counts (table_name, row_count) VALUES (TG_TABLE_NAME, 0)
        ON CONFLICT (table_name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO changed FROM new_rows;
    ELSE
        SELECT -count(*) INTO changed FROM old_rows;
    END IF;
    IF changed <> 0 THEN
        UPDATE row_counts SET row_count = row_count + changed WHERE table_name = TG_TABLE_NAME;
    END IF;
    RETURN NULL;
END
$$
"""


def seed_sql(table: str) -> str:
    """The counter row, counted once from the table (the migration's back-fill)."""
    return (
        f"INSERT INTO row_counts (table_name, row_count) SELECT '{table}', count(*) FROM {table}"
    )


def drop_sql(dialect: str, table: str) -> list[str]:
    name = f"trg_{table}_count"
    events = ("insert", "delete") if dialect == "sqlite" else ("insert", "delete", "truncate")
    if dialect == "sqlite":
        return [f"DROP TRIGGER IF EXISTS {name}_{e}" for e in events]
    return [f"DROP TRIGGER IF EXISTS {name}_{e} ON {table}" for e in events]


def counted(table: FromClause) -> None:
    """Keep `row_counts` true for `table` whenever the metadata creates it."""
    counters = RowCount.__table__
    assert isinstance(table, Table) and isinstance(counters, Table)  # a model's table
    table.add_is_dependent_on(counters)  # created after, dropped before

    def created(target: Table, connection: Connection, **_kw: Any) -> None:
        for sql in [*trigger_sql(connection.dialect.name, target.name), seed_sql(target.name)]:
            connection.exec_driver_sql(sql)

    def dropped(target: Table, connection: Connection, **_kw: Any) -> None:
        # The triggers went with the table; the counter row must not outlive it.
        connection.execute(
            text("DELETE FROM row_counts WHERE table_name = :name"), {"name": target.name}
        )

    event.listen(table, "after_create", created)
    event.listen(table, "after_drop", dropped)
