"""The quality domain's error type."""

from __future__ import annotations

from oncobase.errors import OncobaseError


class QualityError(OncobaseError):
    """A quality check cannot run: a rule file is broken or the input is unusable."""
