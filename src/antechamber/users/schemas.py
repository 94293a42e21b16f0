from __future__ import annotations

import uuid
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from antechamber.http.body import RequestBody
from antechamber.text import refuse_control_characters
from antechamber.users.models import User


def _known_timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


Language = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", max_length=10)
]
TimeZone = Annotated[str, AfterValidator(_known_timezone)]
FullName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=100),
    AfterValidator(refuse_control_characters),
]


class UserOut(BaseModel):
    id: uuid.UUID
    email: str | None
    full_name: str | None
    short_name: str | None
    language: str
    timezone: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(
            id=user.id,
            email=user.email,
            full_name=user.full_name,
            short_name=user.short_name,
            language=user.language,
            timezone=user.timezone,
        )


class UserBrief(BaseModel):
    id: uuid.UUID
    email: str | None
    full_name: str | None
    short_name: str | None

    @classmethod
    def of(cls, user: User) -> UserBrief:
        return cls(
            id=user.id, email=user.email, full_name=user.full_name, short_name=user.short_name
        )


class UserUpdate(RequestBody):
    language: Language | None = None
    timezone: TimeZone | None = None
    full_name: FullName | None = Field(default=None)
