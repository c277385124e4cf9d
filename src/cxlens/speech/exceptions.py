"""Errors of the speech package."""

from __future__ import annotations

from cxlens.errors import InputError


class UnsupportedLanguageError(InputError):
    """The configured engine has no model for the requested language."""
