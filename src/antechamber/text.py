"""Rules for free text that people type and others see (room and user names).

Control characters are refused: PostgreSQL can't store NUL at all (asyncpg raises, which
would be a 500), and the others only serve to confuse whoever reads the name.
"""

from __future__ import annotations


def has_control_characters(value: str) -> bool:
    # str.isprintable() is False for every control and separator character but the space.
    return not value.isprintable()


def refuse_control_characters(value: str) -> str:
    """A Pydantic `AfterValidator`: ValueError becomes a 400 naming the field."""
    if has_control_characters(value):
        raise ValueError("control characters are not allowed")
    return value


def without_control_characters(value: str) -> str:
    """For text we don't choose (identity-provider claims): drop what we can't store."""
    return "".join(ch if ch.isprintable() else " " for ch in value)
