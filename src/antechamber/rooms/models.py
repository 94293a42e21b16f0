from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from antechamber.db.base import Base, IdMixin, TimestampMixin
from antechamber.users.models import User


class AccessLevel(enum.StrEnum):
    PUBLIC = "public"
    TRUSTED = "trusted"
    RESTRICTED = "restricted"


class Role(enum.StrEnum):
    OWNER = "owner"
    ADMINISTRATOR = "administrator"
    MEMBER = "member"

    @property
    def is_admin(self) -> bool:
        return self in (Role.OWNER, Role.ADMINISTRATOR)


class Room(IdMixin, TimestampMixin, Base):
    __tablename__ = "rooms"

    name: Mapped[str] = mapped_column(String(500))
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    access_level: Mapped[AccessLevel] = mapped_column(
        Enum(
            AccessLevel,
            native_enum=False,
            length=20,
            values_callable=lambda e: [m.value for m in e],
        )
    )
    configuration: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    accesses: Mapped[list[ResourceAccess]] = relationship(
        back_populates="room", cascade="all, delete-orphan", passive_deletes=True
    )


class ResourceAccess(IdMixin, TimestampMixin, Base):
    __tablename__ = "resource_accesses"
    __table_args__ = (
        UniqueConstraint("room_id", "user_id", name="uq_resource_accesses_room_user"),
    )

    room_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(
        Enum(Role, native_enum=False, length=20, values_callable=lambda e: [m.value for m in e])
    )

    room: Mapped[Room] = relationship(back_populates="accesses")
    user: Mapped[User] = relationship(lazy="joined")
