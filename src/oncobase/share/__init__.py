"""Sharing under control: disclosure control of aggregate outputs, per-project extracts with
their k-anonymity report, and patients' opt-outs (see ``docs/share_extracts.md``)."""

from __future__ import annotations

from oncobase.share.disclosure import (
    MIN_CELL,
    ProtectedRelease,
    SuppressedTable,
    is_determined,
    marginal_items,
    protect_release,
    protect_tables,
    suppress_table,
)
from oncobase.share.errors import ShareError
from oncobase.share.extract import ExtractResult, PermitSpec, build_extract, extract_columns
from oncobase.share.optout import (
    active_optouts,
    apply_optouts,
    record_optout,
    research_exclusions,
    withdraw_optout,
)

__all__ = [
    "MIN_CELL",
    "ExtractResult",
    "PermitSpec",
    "ProtectedRelease",
    "ShareError",
    "SuppressedTable",
    "active_optouts",
    "apply_optouts",
    "build_extract",
    "extract_columns",
    "is_determined",
    "marginal_items",
    "protect_release",
    "protect_tables",
    "record_optout",
    "research_exclusions",
    "suppress_table",
    "withdraw_optout",
]
