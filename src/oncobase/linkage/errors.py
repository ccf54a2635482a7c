"""The error of the linkage domain (messages never carry an identifier)."""

from __future__ import annotations

from oncobase.errors import OncobaseError


class LinkageError(OncobaseError):
    """Identity records, the vault or a linkage run are unusable as given."""
