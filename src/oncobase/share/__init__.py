"""Sharing under control: disclosure control of aggregate outputs."""

from __future__ import annotations

from oncobase.share.disclosure import (
    MIN_CELL,
    SuppressedTable,
    is_determined,
    suppress_table,
)

__all__ = ["MIN_CELL", "SuppressedTable", "is_determined", "suppress_table"]
