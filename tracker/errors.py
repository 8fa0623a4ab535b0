"""Errors as data: one base for every refusal a person sees.

A service raises a `DomainError` subclass carrying the Chinese message for people, the
HTTP status a page answers with, and a short `code` for code that must branch on the
kind of refusal (never on the message's words). The web layer, the CLI and the importers
show `message` as it is.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A refusal: `message` (Chinese, for people), `status` (HTTP), `code` (for code).

    Subclasses set the defaults of their family; a raise site may override `status` and
    `code` (e.g. a waived request answers 409 with code "waived").
    """

    status: int = 422
    code: str = "invalid"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(DomainError):
    status, code = 404, "not-found"


class Forbidden(DomainError):
    """The thing exists but is not this caller's (another agency's request, a wrong role)."""

    status, code = 403, "forbidden"


class Conflict(DomainError):
    """The state moved on (waived, already decided, already signed)."""

    status, code = 409, "conflict"
