"""The audit trail: each moderation act and lobby decision, whatever its outcome.

Records are written in their own short transaction, so a refused or failed act is
recorded even though the request's own transaction rolls back; a successful act is
recorded once that transaction has committed, before the answer.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from antechamber.db.session import after_commit, counted_page
from antechamber.errors import DomainError
from antechamber.moderation.models import AuditRecord
from antechamber.text import without_control_characters
from antechamber.users.models import User

OK = "ok"


@dataclass
class Actor:
    """Who acts; filled in as the request proves it (a session, or a LiveKit token)."""

    user_id: uuid.UUID | None = None
    identity: str = ""

    @classmethod
    def of(cls, user: User | None) -> Actor:
        return cls(user.id, user.sub) if user is not None else cls()


@dataclass
class Act:
    actor: Actor
    action: str
    target: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class AuditOut(BaseModel):
    id: uuid.UUID
    actor_user_id: uuid.UUID | None
    actor_identity: str
    action: str
    target_identity: str
    detail: dict[str, Any]
    outcome: str
    created_at: datetime

    @classmethod
    def of(cls, record: AuditRecord) -> AuditOut:
        return cls.model_validate(record, from_attributes=True)


def outcome_of(exc: DomainError) -> str:
    """`PermissionDenied` -> "permission_denied"."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()


@asynccontextmanager
async def audited(
    sessionmaker: async_sessionmaker[AsyncSession],
    db: AsyncSession,
    room_id: uuid.UUID,
    act: Act,
) -> AsyncIterator[Act]:
    """Records `act` with its outcome: a refusal or failure at once, a success once the
    request's own transaction (`db`) has committed (SQLite has one writer at a time, and
    the record is written in its own transaction)."""
    try:
        yield act
    except DomainError as exc:
        await write(sessionmaker, room_id, act, outcome_of(exc))
        raise
    after_commit(db, lambda: write(sessionmaker, room_id, act, OK))


async def write(
    sessionmaker: async_sessionmaker[AsyncSession], room_id: uuid.UUID, act: Act, outcome: str
) -> None:
    async with sessionmaker() as db:
        db.add(
            AuditRecord(
                room_id=room_id,
                actor_user_id=act.actor.user_id,
                actor_identity=_storable(act.actor.identity),
                action=act.action,
                target_identity=_storable(act.target),
                detail=_storable(act.detail),
                outcome=outcome,
            )
        )
        await db.commit()


def _storable(value: Any) -> Any:
    """Bodies are checked at the edge; this keeps the record of an attempt writable
    whatever reaches it (PostgreSQL refuses NUL), so no attempt goes unrecorded."""
    if isinstance(value, str):
        return without_control_characters(value)
    if isinstance(value, dict):
        return {_storable(key): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


async def records_of(
    db: AsyncSession, room_id: uuid.UUID, offset: int, limit: int
) -> tuple[int, list[AuditRecord]]:
    """Newest first."""
    base = select(AuditRecord).where(AuditRecord.room_id == room_id)
    order = (AuditRecord.created_at.desc(), AuditRecord.id)
    count, page = await counted_page(db, base, order, offset, limit)
    return count, list(page.scalars())
