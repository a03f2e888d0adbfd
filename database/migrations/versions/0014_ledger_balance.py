"""ledger_balance: inventory_items.ledger_balance = SUM(quantity) of the item's committed
ledger rows, kept by triggers on inventory_transactions (database/models/balances.py), read by
the reconciliation watch

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0014'
down_revision: str | None = '0013'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The statements as they were at this revision (the model module may move on; a test checks
# that a migrated database and one created from the models have the same triggers).
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION inventory_ledger_balance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        UPDATE inventory_items SET ledger_balance = 0 WHERE ledger_balance <> 0;
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        UPDATE inventory_items SET ledger_balance = inventory_items.ledger_balance + d.moved
        FROM (SELECT item_id, sum(moved) AS moved FROM (SELECT item_id, quantity AS moved FROM new_rows WHERE status = 'committed') AS m
              GROUP BY item_id HAVING sum(moved) <> 0) AS d
        WHERE inventory_items.id = d.item_id;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE inventory_items SET ledger_balance = inventory_items.ledger_balance + d.moved
        FROM (SELECT item_id, sum(moved) AS moved FROM (SELECT item_id, -quantity AS moved FROM old_rows WHERE status = 'committed') AS m
              GROUP BY item_id HAVING sum(moved) <> 0) AS d
        WHERE inventory_items.id = d.item_id;
    ELSE
        UPDATE inventory_items SET ledger_balance = inventory_items.ledger_balance + d.moved
        FROM (SELECT item_id, sum(moved) AS moved FROM (SELECT item_id, quantity AS moved FROM new_rows WHERE status = 'committed'
              UNION ALL SELECT item_id, -quantity AS moved FROM old_rows WHERE status = 'committed') AS m
              GROUP BY item_id HAVING sum(moved) <> 0) AS d
        WHERE inventory_items.id = d.item_id;
    END IF;
    RETURN NULL;
END
$$
"""

SQLITE_TRIGGERS = [
    "CREATE TRIGGER trg_inventory_ledger_balance_insert AFTER INSERT ON inventory_transactions WHEN new.status = 'committed' BEGIN UPDATE inventory_items SET ledger_balance = ledger_balance + new.quantity WHERE id = new.item_id; END",
    "CREATE TRIGGER trg_inventory_ledger_balance_delete AFTER DELETE ON inventory_transactions WHEN old.status = 'committed' BEGIN UPDATE inventory_items SET ledger_balance = ledger_balance - old.quantity WHERE id = old.item_id; END",
    "CREATE TRIGGER trg_inventory_ledger_balance_update AFTER UPDATE OF status, quantity, item_id ON inventory_transactions WHEN old.status = 'committed' OR new.status = 'committed' BEGIN UPDATE inventory_items SET ledger_balance = ledger_balance - old.quantity WHERE id = old.item_id AND old.status = 'committed'; UPDATE inventory_items SET ledger_balance = ledger_balance + new.quantity WHERE id = new.item_id AND new.status = 'committed'; END",
]

PG_TRIGGERS = [
    PG_FUNCTION,
    'CREATE TRIGGER trg_inventory_ledger_balance_insert AFTER INSERT ON inventory_transactions REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_ledger_balance()',
    'CREATE TRIGGER trg_inventory_ledger_balance_delete AFTER DELETE ON inventory_transactions REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_ledger_balance()',
    'CREATE TRIGGER trg_inventory_ledger_balance_update AFTER UPDATE ON inventory_transactions REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION inventory_ledger_balance()',
    'CREATE TRIGGER trg_inventory_ledger_balance_truncate AFTER TRUNCATE ON inventory_transactions FOR EACH STATEMENT EXECUTE FUNCTION inventory_ledger_balance()',
]

BACK_FILL = "UPDATE inventory_items SET ledger_balance = COALESCE((SELECT sum(t.quantity) FROM inventory_transactions t WHERE t.item_id = inventory_items.id AND t.status = 'committed'), 0)"

SQLITE_DROPS = ['DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_insert', 'DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_delete', 'DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_update']
PG_DROPS = ['DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_insert ON inventory_transactions', 'DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_delete ON inventory_transactions', 'DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_update ON inventory_transactions', 'DROP TRIGGER IF EXISTS trg_inventory_ledger_balance_truncate ON inventory_transactions', 'DROP FUNCTION IF EXISTS inventory_ledger_balance()']


def upgrade() -> None:
    op.add_column('inventory_items', sa.Column('ledger_balance', sa.Integer(), server_default=sa.text('0'), nullable=False))
    postgres = op.get_bind().dialect.name == 'postgresql'
    if postgres:
        # Writers wait for these locks instead of writing between the triggers and the
        # back-fill: the balance is exact while the bot runs.
        op.execute('LOCK TABLE inventory_transactions, inventory_items IN SHARE ROW EXCLUSIVE MODE')
    for sql in PG_TRIGGERS if postgres else SQLITE_TRIGGERS:
        op.execute(sql)
    op.execute(BACK_FILL)  # the rows already there, summed once


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == 'postgresql'
    for sql in PG_DROPS if postgres else SQLITE_DROPS:
        op.execute(sql)
    op.drop_column('inventory_items', 'ledger_balance')
