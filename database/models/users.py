"""People and their roles (SPEC §2), and the name they are shown by."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.enums import Role
from database.base import Base, str_enum


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
