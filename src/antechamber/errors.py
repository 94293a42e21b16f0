"""Domain exceptions. They carry a reason for the caller, never an HTTP status:
`antechamber.http.errors` maps each kind to its status."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a client can cause or should be told about."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotAuthenticated(DomainError):
    """The caller must log in first."""


class PermissionDenied(DomainError):
    """The caller is known but may not do this."""


class NotFound(DomainError):
    """No such object, or the caller may not know it exists."""


class Conflict(DomainError):
    """The request contradicts the current state (another decision won, a duplicate)."""


class BadRequest(DomainError):
    """The request makes no sense for this object (e.g. a lobby decision in a public room)."""


class InvalidInput(DomainError):
    """A field is wrong. `field` names it for the `{"field": ["reason"]}` body."""

    def __init__(self, field: str, detail: str) -> None:
        super().__init__(detail)
        self.field = field


class RateLimited(DomainError):
    """Too many requests from this client; retry after `retry_after` seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class NotOffered(DomainError):
    """A call La Suite Meet's front end makes that this service doesn't offer, or not as
    configured (recording, file uploads, email without SMTP)."""


class UpstreamUnavailable(DomainError):
    """A service we depend on (LiveKit, the identity provider) did not answer in time."""


class UpstreamError(DomainError):
    """A service we depend on answered with an error we can't pass on as the caller's fault."""


class TryAgainLater(DomainError):
    """We can't do this right now, but the same request may succeed in a moment
    (a webhook being handled by another process, a dependency that failed)."""

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after
