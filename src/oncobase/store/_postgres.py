"""PostgreSQL adapter (shared server), through the Arrow-native ADBC driver.

Bulk loads use the driver's ingest path, which streams Arrow batches with binary COPY.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import adbc_driver_postgresql.dbapi as pg_dbapi
import pyarrow as pa

from oncobase.errors import StoreError
from oncobase.store.backend import Backend, ColumnInfo
from oncobase.store.spec import ColumnSpec

_TYPE_CLASS = {
    "bigint": "integer",
    "integer": "integer",
    "smallint": "integer",
    "double precision": "float",
    "real": "float",
    "numeric": "float",
    "character varying": "text",
    "text": "text",
    "character": "text",
    "date": "date",
    "timestamp without time zone": "datetime",
    "timestamp with time zone": "datetime",
}


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    return f"{scheme}://{creds.split(':', 1)[0]}@{host}"


class PostgresBackend(Backend):
    engine = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        try:
            self.con: Any = pg_dbapi.connect(url, autocommit=True)
        except Exception as exc:
            raise StoreError(
                f"Cannot connect to the PostgreSQL store {_redact(url)}: {exc}. Check that the "
                "server runs and that ONCOBASE_STORE_URL names an existing database."
            ) from exc

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        with self.con.cursor() as cur:
            cur.execute(sql, parameters=tuple(params) if params else None)

    def query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        with self.con.cursor() as cur:
            cur.execute(sql, parameters=tuple(params) if params else None)
            table: pa.Table = cur.fetch_arrow_table()
            return table

    def _append_arrow(self, table: str, data: pa.Table) -> None:
        with self.con.cursor() as cur:
            cur.adbc_ingest(table, data, mode="append")

    def list_tables(self) -> list[str]:
        result = self.query_arrow(
            "SELECT table_name::text AS t FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY 1"
        )
        return [str(v) for v in result.column("t").to_pylist()]

    def describe(self, table: str) -> list[ColumnInfo]:
        result = self.query_arrow(
            "SELECT column_name::text AS n, data_type::text AS d, is_nullable::text AS k "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = $1 ORDER BY ordinal_position",
            (table,),
        )
        return [
            ColumnInfo(name=n, type_class=_TYPE_CLASS.get(d, d), nullable=k == "YES")
            for n, d, k in zip(
                result.column("n").to_pylist(),
                result.column("d").to_pylist(),
                result.column("k").to_pylist(),
                strict=True,
            )
        ]

    def primary_key(self, table: str) -> list[str]:
        result = self.query_arrow(
            "SELECT k.column_name::text AS c FROM information_schema.table_constraints t "
            "JOIN information_schema.key_column_usage k "
            "ON k.constraint_name = t.constraint_name AND k.table_schema = t.table_schema "
            "WHERE t.table_schema = current_schema() AND t.table_name = $1 "
            "AND t.constraint_type = 'PRIMARY KEY' ORDER BY k.ordinal_position",
            (table,),
        )
        return [str(v) for v in result.column("c").to_pylist()]

    def column_sql_type(self, column: ColumnSpec) -> str:
        if column.type_class == "text":
            length = column.max_length
            return f"VARCHAR({length})" if length else "TEXT"
        return {
            "integer": "BIGINT",
            "float": "DOUBLE PRECISION",
            "date": "DATE",
            "datetime": "TIMESTAMP",
        }[column.type_class]

    def close(self) -> None:
        self.con.close()
