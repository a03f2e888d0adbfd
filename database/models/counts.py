"""Row counts kept exact by database triggers, so a screen's "N entries" does not count a
million rows each time it is opened.

One row per counter in `row_counts`: the whole recovery log, and the dead notifications.
The triggers live in the database, not in the code that writes, so every path keeps the
figure true: the services' inserts and updates, retention's deletes, an operator's `DELETE`
in psql, and on PostgreSQL `TRUNCATE`:

- SQLite: row triggers after INSERT (+1) and DELETE (-1), and for a counter of one status
  after an UPDATE that moves a row into it (+1) or out of it (-1). (A delete trigger also
  turns off SQLite's "delete all rows without visiting them" shortcut.)
- PostgreSQL: statement triggers with transition tables, at most one `UPDATE` of the counter
  per statement however many rows it wrote (none when the statement did not change the
  count), and a TRUNCATE trigger that sets the count to 0 (an upsert, so it also holds when
  `row_counts` is truncated in the same statement, as the tests do).

The counter row is updated in the writer's transaction, so a rollback undoes it too. On
PostgreSQL the writers that change a count queue on its row until they commit: fine for the
recovery log (admin actions and the stuck job) and for notifications dying or being retried
out of dead (rare), which is why there is no counter of the busy statuses (waiting, sent).

Created with the table when the schema comes from the metadata (`create_all`, tests) and by
migration 0013 in a database that is migrated; tests/test_row_counts.py checks that both give
the same triggers. A SQLite migration that copies a counted table (batch mode) drops its
triggers: it must create them again (`trigger_sql`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, FromClause, String, Table, event, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column

from database.base import Base


class RowCount(Base):
    __tablename__ = "row_counts"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    row_count: Mapped[int] = mapped_column(BigInteger)


@dataclass(frozen=True)
class Counter:
    table: str
    status: str | None = None  # count only the rows whose `status` is this

    @property
    def name(self) -> str:
        return self.table if self.status is None else f"{self.table}.{self.status}"

    @property
    def trigger(self) -> str:
        return "trg_" + self.name.replace(".", "_") + "_count"


PG_FUNCTIONS = {
    # Every row of the table; the counter's name is the trigger's argument.
    "row_counts_track": """
CREATE OR REPLACE FUNCTION row_counts_track() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO row_counts (name, row_count) VALUES (TG_ARGV[0], 0)
        ON CONFLICT (name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO changed FROM new_rows;
    ELSE
        SELECT -count(*) INTO changed FROM old_rows;
    END IF;
    IF changed <> 0 THEN
        UPDATE row_counts SET row_count = row_count + changed WHERE name = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$
""",
    # The rows whose `status` is the second argument.
    "row_counts_track_status": """
CREATE OR REPLACE FUNCTION row_counts_track_status() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    changed bigint := 0;
    gone bigint;
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        INSERT INTO row_counts (name, row_count) VALUES (TG_ARGV[0], 0)
        ON CONFLICT (name) DO UPDATE SET row_count = 0;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        SELECT count(*) INTO changed FROM new_rows WHERE status = TG_ARGV[1];
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        SELECT count(*) INTO gone FROM old_rows WHERE status = TG_ARGV[1];
        changed := changed - gone;
    END IF;
    IF changed <> 0 THEN
        UPDATE row_counts SET row_count = row_count + changed WHERE name = TG_ARGV[0];
    END IF;
    RETURN NULL;
END
$$
""",
}


def trigger_sql(dialect: str, counter: Counter) -> list[str]:
    """The statements that create the counter's triggers (on PostgreSQL with its function)."""
    t, name, trg = counter.table, counter.name, counter.trigger
    bump = (
        "BEGIN UPDATE row_counts SET row_count = row_count {} 1 WHERE name = '" + name + "'; END"
    )
    if dialect == "sqlite":
        if counter.status is None:
            return [
                f"CREATE TRIGGER {trg}_insert AFTER INSERT ON {t} {bump.format('+')}",
                f"CREATE TRIGGER {trg}_delete AFTER DELETE ON {t} {bump.format('-')}",
            ]
        v = f"'{counter.status}'"
        return [
            f"CREATE TRIGGER {trg}_insert AFTER INSERT ON {t} "
            f"WHEN new.status = {v} {bump.format('+')}",
            f"CREATE TRIGGER {trg}_delete AFTER DELETE ON {t} "
            f"WHEN old.status = {v} {bump.format('-')}",
            f"CREATE TRIGGER {trg}_enter AFTER UPDATE OF status ON {t} "
            f"WHEN new.status = {v} AND old.status IS NOT {v} {bump.format('+')}",
            f"CREATE TRIGGER {trg}_leave AFTER UPDATE OF status ON {t} "
            f"WHEN old.status = {v} AND new.status IS NOT {v} {bump.format('-')}",
        ]
    function = "row_counts_track" if counter.status is None else "row_counts_track_status"
    args = f"'{name}'" if counter.status is None else f"'{name}', '{counter.status}'"
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION {function}({args})"
    events = [
        ("insert", "INSERT", "REFERENCING NEW TABLE AS new_rows"),
        ("delete", "DELETE", "REFERENCING OLD TABLE AS old_rows"),
    ]
    if counter.status is not None:
        events.append(
            ("update", "UPDATE", "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows")
        )
    return [
        PG_FUNCTIONS[function],
        *[f"CREATE TRIGGER {trg}_{e} AFTER {op} ON {t} {ref} {run}" for e, op, ref in events],
        f"CREATE TRIGGER {trg}_truncate AFTER TRUNCATE ON {t} {run}",
    ]


def seed_sql(counter: Counter) -> str:
    """The counter row, counted once from the table (the migration's back-fill)."""
    where = "" if counter.status is None else f" WHERE status = '{counter.status}'"
    return (
        f"INSERT INTO row_counts (name, row_count) "
        f"SELECT '{counter.name}', count(*) FROM {counter.table}{where}"
    )


RECOVERY_LOG = Counter("workflow_recovery_log")
DEAD_NOTIFICATIONS = Counter("pending_notifications", "dead")


def counted(table: FromClause, counter: Counter) -> None:
    """Keep `counter` true whenever the metadata creates `table`."""
    counters = RowCount.__table__
    assert isinstance(table, Table) and isinstance(counters, Table)  # a model's table
    table.add_is_dependent_on(counters)  # created after, dropped before

    def created(_target: Table, connection: Connection, **_kw: Any) -> None:
        for sql in [*trigger_sql(connection.dialect.name, counter), seed_sql(counter)]:
            connection.exec_driver_sql(sql)

    def dropped(_target: Table, connection: Connection, **_kw: Any) -> None:
        # The triggers went with the table; the counter row must not outlive it.
        connection.execute(
            text("DELETE FROM row_counts WHERE name = :name"), {"name": counter.name}
        )

    event.listen(table, "after_create", created)
    event.listen(table, "after_drop", dropped)
