"""Inventory: the items and their ledger, whose committed rows are the truth of the stock."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from core.enums import TransactionKind, TransactionStatus
from database.base import Base, str_enum
from database.models.balances import balanced


class InventoryItem(Base):
    __tablename__ = "inventory_items"
    __table_args__ = (CheckConstraint("unit <> ''", name="unit_not_empty"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    # Cached figure; the committed ledger rows are the source of truth.
    stock: Mapped[int] = mapped_column(Integer, default=0)
    # SUM of the committed ledger rows, kept by triggers (database/models/balances.py) for the
    # reconciliation watch; no code of the app writes it.
    ledger_balance: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class InventoryTransaction(Base):
    __tablename__ = "inventory_transactions"
    __table_args__ = (
        Index("ix_inventory_transactions_item_id_status", "item_id", "status"),
        Index("ix_inventory_transactions_request_id", "request_id"),
        # Reconciliation asks "is this movement already reversed?" for every orphan.
        Index("ix_inventory_transactions_reverses_id", "reverses_id"),
        Index("ix_inventory_transactions_request_item_id", "request_item_id"),
        CheckConstraint("quantity <> 0", name="quantity_nonzero"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id"))
    # Deliberately no foreign keys to requests: the ledger is history and must outlive them,
    # and reconciliation looks for movements whose request is gone.
    request_id: Mapped[int | None] = mapped_column(Integer)
    request_item_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[TransactionKind] = mapped_column(str_enum(TransactionKind))
    # Signed change of stock: an issue is negative, a receipt positive.
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[TransactionStatus] = mapped_column(str_enum(TransactionStatus))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str | None] = mapped_column(Text)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("inventory_transactions.id"))
    created_at: Mapped[datetime]
    committed_at: Mapped[datetime | None]


balanced(InventoryTransaction.__table__)
