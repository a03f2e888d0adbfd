"""Requests moving through their workflow (SPEC §2): the request, its lines, its history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import RequestStatus, TransitionAction
from database.base import Base, str_enum
from database.models.inventory import InventoryItem
from database.models.users import User


class Request(Base):
    __tablename__ = "requests"
    __table_args__ = (
        Index("ix_requests_status_stage", "status", "stage"),
        # The stuck screen: per stage, "in it since before the threshold" is one range, read
        # in the screen's order (database/repositories/stuck.py).
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
