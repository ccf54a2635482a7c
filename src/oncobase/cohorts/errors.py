"""The cohort domain's error."""

from __future__ import annotations

from oncobase.errors import OncobaseError


class CohortError(OncobaseError, ValueError):
    """A cohort definition is invalid (the message names the field and the line), or a
    cohort cannot be built or found."""
