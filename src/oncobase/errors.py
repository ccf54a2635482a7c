"""One error hierarchy: every message says what went wrong and what to do about it.

Messages never carry a direct identifier (name, NIR/INS, full birth date, address).
"""

from __future__ import annotations


class OncobaseError(Exception):
    """Base of every error OncoBase raises on purpose; the CLI prints its message."""

    exit_code = 1


class ConfigError(OncobaseError, ValueError):
    """A setting is missing or wrong."""


class StoreError(OncobaseError):
    """The clinical store cannot be reached, created or written."""


class BulkLoadError(StoreError):
    """An Arrow table does not fit the OMOP table it is loaded into."""


class VocabError(OncobaseError):
    """A vocabulary file is missing, malformed or inconsistent."""


class PipelineError(OncobaseError):
    """A pipeline step failed or the pipeline is misconfigured."""


class NotSupportedError(OncobaseError):
    """The engine in use cannot do what was asked."""


class StatsError(OncobaseError, ValueError):
    """Input to a statistical computation is invalid (the message names the row or cell)."""
