"""Rules for free text that people type and others see (room and user names).

Refused: C0 and C1 control characters (NUL among them: PostgreSQL can't store it, and
asyncpg would raise, a 500) and the bidirectional controls (they reorder what others read).
Everything else a person may write is kept, emoji sequences with their joiners included.
The same rule is given to the OpenAPI schema as a pattern, so what the schema calls valid
is exactly what is accepted.
"""

from __future__ import annotations

import re

# Escapes read the same by Python's `re` and by JSON Schema (ECMA-262) patterns.
_FORBIDDEN = r"\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_FORBIDDEN_RE = re.compile(f"[{_FORBIDDEN}]")
# No forbidden character; may be empty or blank.
TEXT_PATTERN = rf"^[^{_FORBIDDEN}]*$"
# No forbidden character, and at least one that is not white space.
NAME_PATTERN = rf"^[^{_FORBIDDEN}]*[^\s{_FORBIDDEN}][^{_FORBIDDEN}]*$"


def has_control_characters(value: str) -> bool:
    # Lone surrogates (a JSON "\ud800") can't be encoded for the database either.
    return _FORBIDDEN_RE.search(value) is not None or any(
        "\ud800" <= ch <= "\udfff" for ch in value
    )


def refuse_control_characters(value: str) -> str:
    """A Pydantic `AfterValidator`: ValueError becomes a 400 naming the field."""
    if has_control_characters(value):
        raise ValueError("control characters are not allowed")
    return value


def without_control_characters(value: str) -> str:
    """For text we don't choose (identity-provider claims): drop what we can't store."""
    return "".join(" " if has_control_characters(ch) else ch for ch in value)


def clean_name(value: str) -> str:
    """A Pydantic `AfterValidator` for required names: no control character, not blank;
    kept trimmed. Used with `Field(max_length=..., json_schema_extra=NAME_SCHEMA)`, so
    the schema's maxLength counts the characters as sent, as the check does."""
    refuse_control_characters(value)
    if not value.strip():
        raise ValueError("the name can't be blank")
    return value.strip()


NAME_SCHEMA = {"pattern": NAME_PATTERN}
