"""The base of every request body."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, field_validator

# C0 and C1 controls and DEL. Never part of an identifier, a slug, a name or an attribute;
# PostgreSQL can't even store NUL. (Display names have a stricter rule of their own.)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _refuse_controls(value: Any) -> None:
    if isinstance(value, str):
        if _CONTROL.search(value):
            raise ValueError("Control characters are not allowed.")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_controls(key)
            _refuse_controls(item)
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            _refuse_controls(item)


class RequestBody(BaseModel):
    """Unknown fields are refused, and so is a control character in any string the body
    holds (dictionary keys included), with a 400 naming the field: checked here once, at
    the edge, so no service, store or audit record ever sees one."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="after")
    @classmethod
    def _no_control_characters(cls, value: Any) -> Any:
        _refuse_controls(value)
        return value
