"""The quality domain's platform tables (specified in ``store/spec/platform.tsv``)."""

from __future__ import annotations

from oncobase.store import Backend, TableSpec, create_store, platform_tables

QUALITY_TABLES: tuple[TableSpec, ...] = tuple(
    t for t in platform_tables() if t.name.startswith("quality__")
)


def ensure_quality_tables(backend: Backend) -> list[str]:
    """Create the missing store tables (quality ones included); the quality ones created."""
    return [name for name in create_store(backend).created if name.startswith("quality__")]
