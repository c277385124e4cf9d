"""The one error root and the warning class of cxlens.

Every error a user can cause is a :class:`CxlensError` whose message says what went wrong and,
where there is one, what to do next. The CLI prints it on one line and exits non-zero.
"""

from __future__ import annotations


class CxlensError(Exception):
    """Base of every user-facing error. ``hint`` says what to do next."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class ConfigError(CxlensError):
    """A settings file or environment variable is invalid."""


class WorkspaceError(CxlensError):
    """The workspace is missing, foreign, unreadable or locked."""


class WarehouseError(CxlensError):
    """The warehouse backend refused an operation."""


class InputError(CxlensError):
    """An input (file, argument, payload) cannot be used as given."""


class NotFoundError(CxlensError):
    """A thing the user named does not exist (customer, KPI, table...)."""


class CxlensWarning(UserWarning):
    """Warnings cxlens emits itself (tests turn them into errors)."""
