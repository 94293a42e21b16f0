"""Display names: what a participant is called in a room, and which names are refused."""

from __future__ import annotations

from antechamber.errors import InvalidInput
from antechamber.settings import Settings
from antechamber.text import has_control_characters

MAX_DISPLAY_NAME = 100


def clean_display_name(raw: str | None, field: str = "username") -> str | None:
    """The trimmed name, None when not given; InvalidInput when unusable."""
    if raw is None:
        return None
    if has_control_characters(raw):
        raise InvalidInput(field, "The name can't contain control characters.")
    name = " ".join(raw.split())
    if not name:
        raise InvalidInput(field, "The name can't be empty.")
    if len(name) > MAX_DISPLAY_NAME:
        raise InvalidInput(field, f"The name can't be longer than {MAX_DISPLAY_NAME} characters.")
    return name


def requested_display_name(raw: str | None) -> str | None:
    """A `?username=` query: La Suite Meet's front end always sends it, empty when the user
    typed no name, so blank means "not given" (fall back) rather than a bad name."""
    if raw is None or not raw.strip():
        return None
    return clean_display_name(raw)


def display_name(
    settings: Settings, chosen: str | None, full_name: str | None, is_authenticated: bool
) -> str:
    if chosen and (not is_authenticated or settings.authenticated_users_can_edit_display_name):
        return chosen
    return full_name or settings.default_display_name
