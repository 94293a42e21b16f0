"""Every model, imported once so the metadata (and Alembic) sees all tables."""

from antechamber.db.base import Base
from antechamber.moderation.models import AuditRecord
from antechamber.rooms.models import ResourceAccess, Room
from antechamber.users.models import User

__all__ = ["AuditRecord", "Base", "ResourceAccess", "Room", "User"]
