"""Who is calling: a logged-in user, or an anonymous participant known by its lobby cookie."""

from __future__ import annotations

from dataclasses import dataclass

from antechamber.users.models import User


@dataclass(frozen=True)
class Caller:
    user: User | None
    # Public id derived from the lobby cookie; the LiveKit identity of anonymous callers.
    participant_id: str

    @property
    def is_authenticated(self) -> bool:
        return self.user is not None

    @property
    def identity(self) -> str:
        return self.user.sub if self.user is not None else self.participant_id
