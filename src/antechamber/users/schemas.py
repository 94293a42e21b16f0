from __future__ import annotations

import uuid
import zoneinfo
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from antechamber.request_body import RequestBody
from antechamber.text import NAME_SCHEMA, clean_name
from antechamber.users.models import User


def _known_timezone(value: str) -> str:
    if value not in zoneinfo.available_timezones():
        raise ValueError(f"unknown time zone {value!r}")
    return value


# What the service takes for an address: ASCII, one @, a dotted domain. Given to the
# schema as its pattern, so what it calls valid is exactly what is accepted (the users
# table keeps 254 characters; the development login's `dev|<email>` subject, 255).
EMAIL_PATTERN = r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$"
EmailAddress = Annotated[str, Field(min_length=3, max_length=250, pattern=EMAIL_PATTERN)]
Language = Annotated[
    str, StringConstraints(pattern=r"^[a-z]{2,3}(-[a-z0-9]{2,8})?$", max_length=10)
]
TimeZone = Annotated[
    str,
    # Listed so the schema calls valid exactly the zones this service knows.
    Field(json_schema_extra={"enum": sorted(zoneinfo.available_timezones())}),
    AfterValidator(_known_timezone),
]
FullName = Annotated[
    str,
    Field(min_length=1, max_length=100, json_schema_extra=NAME_SCHEMA),
    AfterValidator(clean_name),
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
