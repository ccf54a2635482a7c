"""The clinical store: OMOP CDM v5.4 with its oncology model, on DuckDB or PostgreSQL."""

from __future__ import annotations

from oncobase.store.backend import Backend, ColumnInfo, quote_ident
from oncobase.store.bulk import LoadResult, bulk_load, conform_to_spec
from oncobase.store.connection import connect
from oncobase.store.ddl import StoreCreated, create_store, create_table_sql
from oncobase.store.metadata import LoadRecord, finish_load, list_loads, record_load
from oncobase.store.spec import (
    CDM_VERSION,
    ColumnSpec,
    TableSpec,
    all_tables,
    omop_tables,
    platform_tables,
    table_spec,
)

__all__ = [
    "CDM_VERSION",
    "Backend",
    "ColumnInfo",
    "ColumnSpec",
    "LoadRecord",
    "LoadResult",
    "StoreCreated",
    "TableSpec",
    "all_tables",
    "bulk_load",
    "conform_to_spec",
    "connect",
    "create_store",
    "create_table_sql",
    "finish_load",
    "list_loads",
    "omop_tables",
    "platform_tables",
    "quote_ident",
    "record_load",
    "table_spec",
]
