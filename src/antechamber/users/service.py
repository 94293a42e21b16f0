"""Users: created or updated from identity-provider claims, edited by themselves."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from antechamber.errors import NotFound, PermissionDenied
from antechamber.text import without_control_characters
from antechamber.users.models import User
from antechamber.users.schemas import UserUpdate

MAX_NAME = 100


async def get(db: AsyncSession, user_id: uuid.UUID) -> User | None:
    return await db.get(User, user_id)


async def upsert_from_claims(
    db: AsyncSession, sub: str, email: str | None, full_name: str | None
) -> User:
    """Creates the user on first login, refreshes email and name on later ones."""
    # Claims come from the provider: keep what can be stored rather than refuse the login.
    full_name = " ".join(without_control_characters(full_name or "").split())[:MAX_NAME] or None
    short_name = full_name.split()[0][:MAX_NAME] if full_name else None
    email = without_control_characters(email or "").strip()[:254] or None
    user = (await db.execute(select(User).where(User.sub == sub))).scalar_one_or_none()
    if user is None:
        user = User(sub=sub, email=email, full_name=full_name, short_name=short_name)
        try:
            async with db.begin_nested():
                db.add(user)
        except IntegrityError:
            # Two first logins raced; the other one created it.
            user = (await db.execute(select(User).where(User.sub == sub))).scalar_one()
        return user
    user.email = email or user.email
    if full_name:
        user.full_name = full_name
        user.short_name = short_name
    await db.flush()
    return user


async def update(db: AsyncSession, caller: User, user_id: uuid.UUID, change: UserUpdate) -> User:
    if caller.id != user_id:
        if await get(db, user_id) is None:
            raise NotFound("No such user.")
        raise PermissionDenied("You can only change your own profile.")
    for field in change.model_fields_set:
        value = getattr(change, field)
        if value is not None:
            setattr(caller, field, value)
    if "full_name" in change.model_fields_set and change.full_name:
        caller.short_name = change.full_name.split()[0]
    await db.flush()
    return caller
