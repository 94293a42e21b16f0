"""Every model, imported once so the metadata (and Alembic) sees all tables."""

from antechamber.db.base import Base
from antechamber.rooms.models import ResourceAccess, Room
from antechamber.users.models import User

__all__ = ["Base", "ResourceAccess", "Room", "User"]
