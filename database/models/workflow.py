"""People, inventory and requests moving through their workflow (SPEC §2)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import (
    RequestStatus,
    Role,
    TransactionKind,
    TransactionStatus,
    TransitionAction,
)
from database.base import Base, str_enum
from database.models.balances import balanced


def display_name(full_name: str | None, username: str | None, telegram_id: int) -> str:
    """What people see for a user: their name, else @username, else the Telegram id."""
    if full_name:
        return full_name
    return f"@{username}" if username else str(telegram_id)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    username: Mapped[str | None] = mapped_column(String(64))
    full_name: Mapped[str] = mapped_column(String(256), default="")
    # The language the user picked with /language; None means "follow Telegram".
    language: Mapped[str | None] = mapped_column(String(8))
    telegram_language: Mapped[str | None] = mapped_column(String(16))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Telegram refused to deliver to this chat (blocked, chat gone); the person stays active.
    unreachable_since: Mapped[datetime | None]
    created_at: Mapped[datetime]
    # The staff command menu last set for this chat ("admin:ru"); None: Telegram's default one.
    command_menu: Mapped[str | None] = mapped_column(String(32))

    roles: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.roles)

    @property
    def display_name(self) -> str:
        return display_name(self.full_name, self.username, self.telegram_id)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[Role] = mapped_column(str_enum(Role), primary_key=True)
    granted_at: Mapped[datetime]

    user: Mapped[User] = relationship(back_populates="roles")


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


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_stage", "status", "stage"),
        # The stuck screen: per stage, "in it since before the threshold" is one range, read
        # in the screen's order (services/stuck.py).
        Index("ix_requests_stuck", "status", "workflow", "stage", "stage_entered_at", "id"),
        # ...and "its assignee is gone" a few ranges of assignee ids outside the role's holders;
        # with the time, so the count of those not late as well reads the index alone.
        Index(
            "ix_requests_assignee",
            "status",
            "workflow",
            "stage",
            "assignee_id",
            "stage_entered_at",
            "id",
        ),
        Index("ix_requests_requester_id", "requester_id"),
        Index("ix_requests_assignee_id", "assignee_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workflow: Mapped[str] = mapped_column(String(64))
    # None once the request is finished (completed, rejected or cancelled).
    stage: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[RequestStatus] = mapped_column(str_enum(RequestStatus))
    requester_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    stage_entered_at: Mapped[datetime]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    version: Mapped[int] = mapped_column(Integer, nullable=False)

    requester: Mapped[User] = relationship(foreign_keys=[requester_id], lazy="joined")
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id], lazy="joined")
    items: Mapped[list[RequestItem]] = relationship(
        back_populates="request",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="RequestItem.id",
    )

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class RequestItem(Base):
    __tablename__ = "request_items"
    __table_args__ = (
        UniqueConstraint("request_id", "item_id", name="uq_request_items_request_item"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    item_id: Mapped[int] = mapped_column(ForeignKey("inventory_items.id"))
    quantity: Mapped[int] = mapped_column(Integer)

    request: Mapped[Request] = relationship(back_populates="items")
    item: Mapped[InventoryItem] = relationship(lazy="joined")


class RequestTransition(Base):
    __tablename__ = "request_transitions"
    __table_args__ = (Index("ix_request_transitions_request_id", "request_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("requests.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(String(64))
    to_stage: Mapped[str | None] = mapped_column(String(64))
    from_status: Mapped[RequestStatus | None] = mapped_column(str_enum(RequestStatus))
    to_status: Mapped[RequestStatus] = mapped_column(str_enum(RequestStatus))
    # None: done by the system (a scheduled job), not by a person.
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[TransitionAction] = mapped_column(str_enum(TransitionAction))
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


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
