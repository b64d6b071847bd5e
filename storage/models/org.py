"""People, roles and named group targets."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from storage.base import Base
from storage.types import UTCDateTime

ROLES = ("rep", "manager", "product", "finance", "admin")


class User(Base):
    """A person. ``status`` is active, pending (unknown sender awaiting an admin) or inactive."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    team: Mapped[str] = mapped_column(String(100), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    title: Mapped[str] = mapped_column(String(100), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    dingtalk_staff_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    dingtalk_union_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    wecom_userid: Mapped[str | None] = mapped_column(String(100), unique=True)
    console_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    preferred_channel: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def roles(self) -> set[str]:
        return {r.role for r in self.role_rows}

    def has_role(self, role: str) -> bool:
        return any(r.role == role for r in self.role_rows)

    def platform_id(self, channel: str) -> str | None:
        return {
            "dingtalk": self.dingtalk_staff_id,
            "wecom": self.wecom_userid,
            "console": self.console_id,
        }.get(channel)


class UserRole(Base):
    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True, index=True)

    user: Mapped[User] = relationship(back_populates="role_rows")


class PendingSender(Base):
    """An unknown platform id that wrote to the bot; admins are told once and approve in chat."""

    __tablename__ = "pending_senders"

    channel: Mapped[str] = mapped_column(String(20), primary_key=True)
    platform_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    first_text: Mapped[str] = mapped_column(Text, default="")
    message_count: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending | approved | rejected
    admins_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GroupTarget(Base):
    """A named place alerts go to (manager group, product group, finance)."""

    __tablename__ = "group_targets"

    name: Mapped[str] = mapped_column(String(60), primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))  # dingtalk | wecom | console
    kind: Mapped[str] = mapped_column(String(20))  # conversation | webhook | appchat | robot | console
    address: Mapped[str] = mapped_column(String(300))
    secret: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
