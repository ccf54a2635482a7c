"""The share domain's one error type."""

from __future__ import annotations

from oncobase.errors import OncobaseError


class ShareError(OncobaseError, ValueError):
    """A permit, an extract, an opt-out or a release cannot be handled as asked (the message
    says why and what to do); never carries a direct identifier."""
