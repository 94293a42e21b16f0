"""The audit trail: who did what to whom in a room, and how it ended."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from antechamber.db.base import Base, IdMixin, utcnow


class AuditRecord(IdMixin, Base):
    __tablename__ = "audit_records"

    room_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("rooms.id", ondelete="CASCADE"), index=True
    )
    # No foreign key: the trail outlives a deleted user account.
    actor_user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, nullable=True)
    actor_identity: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(50))
    target_identity: Mapped[str] = mapped_column(String(255), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    outcome: Mapped[str] = mapped_column(String(50))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
