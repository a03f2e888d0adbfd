"""Row counts kept exact by database triggers, so a screen's "N entries" does not count a
million rows each time it is opened.

One row per counter in `row_counts`: the whole recovery log, each person's part of it (the
"by admin" filter), and the dead notifications.
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


@dataclass(frozen=True)
class GroupCounter:
    """One counter per value of `column` (NULL not counted), named `prefix` + the value."""

    table: str
    column: str

    @property
    def prefix(self) -> str:
        return f"{self.table}.{self.column}="

    def name(self, value: object) -> str:
        return f"{self.prefix}{value}"

    @property
    def trigger(self) -> str:
        return f"trg_{self.table}_{self.column}_count"

    @property
    def function(self) -> str:
        return f"row_counts_by_{self.column}"


def group_function_sql(counter: GroupCounter) -> str:
    """PostgreSQL: add the new rows per value (an upsert, in name order so two statements
    never lock the counters in opposite orders), subtract the old ones; TRUNCATE drops the
    counters (a missing one reads as "count the rows", which are then none)."""
    c = counter.column
    return f"""
CREATE OR REPLACE FUNCTION {counter.function}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        DELETE FROM row_counts WHERE starts_with(name, TG_ARGV[0]);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE row_counts SET row_count = row_counts.row_count - gone.n
        FROM (SELECT TG_ARGV[0] || {c} AS name, count(*) AS n FROM old_rows
              WHERE {c} IS NOT NULL GROUP BY {c}) AS gone
        WHERE row_counts.name = gone.name;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO row_counts (name, row_count)
        SELECT TG_ARGV[0] || {c}, count(*) FROM new_rows WHERE {c} IS NOT NULL
        GROUP BY {c} ORDER BY 1
        ON CONFLICT (name) DO UPDATE SET row_count = row_counts.row_count + excluded.row_count;
    END IF;
    RETURN NULL;
END
$$
"""


def group_trigger_sql(dialect: str, counter: GroupCounter) -> list[str]:
    t, c, trg, prefix = counter.table, counter.column, counter.trigger, counter.prefix
    if dialect == "sqlite":

        def add(row: str) -> str:
            return (
                f"INSERT INTO row_counts (name, row_count) SELECT '{prefix}' || {row}.{c}, 1 "
                f"WHERE {row}.{c} IS NOT NULL "
                "ON CONFLICT (name) DO UPDATE SET row_count = row_count + 1;"
            )

        def take(row: str) -> str:
            return (
                "UPDATE row_counts SET row_count = row_count - 1 "
                f"WHERE name = '{prefix}' || {row}.{c};"
            )

        return [
            f"CREATE TRIGGER {trg}_insert AFTER INSERT ON {t} BEGIN {add('new')} END",
            f"CREATE TRIGGER {trg}_delete AFTER DELETE ON {t} BEGIN {take('old')} END",
            f"CREATE TRIGGER {trg}_update AFTER UPDATE OF {c} ON {t} "
            f"WHEN old.{c} IS NOT new.{c} BEGIN {take('old')} {add('new')} END",
        ]
    run = f"FOR EACH STATEMENT EXECUTE FUNCTION {counter.function}('{prefix}')"
    return [
        group_function_sql(counter),
        f"CREATE TRIGGER {trg}_insert AFTER INSERT ON {t} REFERENCING NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER {trg}_delete AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows {run}",
        f"CREATE TRIGGER {trg}_update AFTER UPDATE ON {t} "
        f"REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows {run}",
        f"CREATE TRIGGER {trg}_truncate AFTER TRUNCATE ON {t} {run}",
    ]


def group_seed_sql(counter: GroupCounter) -> str:
    c = counter.column
    return (
        f"INSERT INTO row_counts (name, row_count) SELECT '{counter.prefix}' || {c}, count(*) "
        f"FROM {counter.table} WHERE {c} IS NOT NULL GROUP BY {c}"
    )


RECOVERY_LOG = Counter("workflow_recovery_log")
RECOVERY_LOG_BY_ACTOR = GroupCounter("workflow_recovery_log", "actor_id")
DEAD_NOTIFICATIONS = Counter("pending_notifications", "dead")


def counted(table: FromClause, counter: Counter | GroupCounter) -> None:
    """Keep `counter` true whenever the metadata creates `table`."""
    counters = RowCount.__table__
    assert isinstance(table, Table) and isinstance(counters, Table)  # a model's table
    table.add_is_dependent_on(counters)  # created after, dropped before

    def created(_target: Table, connection: Connection, **_kw: Any) -> None:
        dialect = connection.dialect.name
        if isinstance(counter, GroupCounter):
            statements = [*group_trigger_sql(dialect, counter), group_seed_sql(counter)]
        else:
            statements = [*trigger_sql(dialect, counter), seed_sql(counter)]
        for sql in statements:
            connection.exec_driver_sql(sql)

    def dropped(_target: Table, connection: Connection, **_kw: Any) -> None:
        # The triggers went with the table; the counter rows must not outlive it.
        if isinstance(counter, GroupCounter):
            where, value = "substr(name, 1, length(:value)) = :value", counter.prefix
        else:
            where, value = "name = :value", counter.name
        connection.execute(text(f"DELETE FROM row_counts WHERE {where}"), {"value": value})

    event.listen(table, "after_create", created)
    event.listen(table, "after_drop", dropped)
