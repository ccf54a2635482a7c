"""DuckDB adapter: the embedded default engine (one file in the home folder)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import duckdb
import pyarrow as pa

from oncobase.errors import StoreError
from oncobase.store.backend import Backend, ColumnInfo, quote_ident
from oncobase.store.ddl import create_table_sql
from oncobase.store.spec import ColumnSpec, all_tables

# Loads at least this big into an empty table build the primary-key index afterwards.
_REBUILD_THRESHOLD = 100_000

_TYPE_CLASS = {
    "BIGINT": "integer",
    "INTEGER": "integer",
    "SMALLINT": "integer",
    "HUGEINT": "integer",
    "DOUBLE": "float",
    "FLOAT": "float",
    "REAL": "float",
    "VARCHAR": "text",
    "DATE": "date",
    "TIMESTAMP": "datetime",
}


class DuckDBBackend(Backend):
    engine = "duckdb"

    def __init__(self, url: str, *, path: str) -> None:
        super().__init__(url)
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(path)
        except duckdb.IOException as exc:
            raise StoreError(
                f"Cannot open the DuckDB store {path}: {exc}. Another process may hold it "
                "open (DuckDB allows one writer); stop it or use a PostgreSQL store."
            ) from exc

    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        self.con.execute(sql, list(params) if params else None)

    def query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        relation = self.con.sql(sql, params=list(params) if params else None)
        if relation is None:
            return pa.table({})
        return relation.to_arrow_table()

    def _append_arrow(self, table: str, data: pa.Table) -> None:
        columns = ", ".join(quote_ident(c) for c in data.column_names)
        view = "__oncobase_bulk_source"
        self.con.register(view, data)
        try:
            if (
                not self.in_transaction
                and data.num_rows >= _REBUILD_THRESHOLD
                and self._empty_with_primary_key(table)
            ):
                self._load_then_index(table, columns, view)
            else:
                self.con.execute(
                    f"INSERT INTO {quote_ident(table)} ({columns}) SELECT {columns} FROM {view}"
                )
        finally:
            self.con.unregister(view)

    def _empty_with_primary_key(self, table: str) -> bool:
        if table not in all_tables() or not all_tables()[table].primary_key:
            return False
        row = self.con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()
        return row is not None and row[0] == 0

    def _load_then_index(self, table: str, columns: str, view: str) -> None:
        """First big load into an empty table: load unindexed, then build the primary key.

        DuckDB builds an index over existing rows about four times faster than it maintains
        it row by row. On a duplicate key the new table is dropped and nothing changes.
        """
        spec = all_tables()[table]
        unindexed = replace(
            spec,
            name=f"__oncobase_new_{table}",
            columns=tuple(replace(c, primary_key=False) for c in spec.columns),
        )
        key = ", ".join(quote_ident(c) for c in spec.primary_key)
        new = quote_ident(unindexed.name)
        self.con.execute(f"DROP TABLE IF EXISTS {new}")
        self.con.execute(create_table_sql(self, unindexed))
        try:
            self.con.execute(f"INSERT INTO {new} ({columns}) SELECT {columns} FROM {view}")
            self.con.execute(f"ALTER TABLE {new} ADD PRIMARY KEY ({key})")
        except Exception:
            self.con.execute(f"DROP TABLE IF EXISTS {new}")
            raise
        # Swap in one transaction: readers see the old (empty) table or the loaded one.
        self.con.execute("BEGIN TRANSACTION")
        self.con.execute(f"DROP TABLE {quote_ident(table)}")
        self.con.execute(f"ALTER TABLE {new} RENAME TO {quote_ident(table)}")
        self.con.execute("COMMIT")

    def list_tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
            "ORDER BY table_name"
        ).fetchall()
        return [str(r[0]) for r in rows]

    def describe(self, table: str) -> list[ColumnInfo]:
        rows = self.con.execute(
            "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
            [table],
        ).fetchall()
        return [
            ColumnInfo(
                name=str(name),
                type_class=_TYPE_CLASS.get(str(dtype).split("(")[0], str(dtype)),
                nullable=nullable == "YES",
            )
            for name, dtype, nullable in rows
        ]

    def primary_key(self, table: str) -> list[str]:
        rows = self.con.execute(
            "SELECT constraint_column_names FROM duckdb_constraints() "
            "WHERE table_name = $1 AND constraint_type = 'PRIMARY KEY' "
            "AND schema_name = current_schema()",
            [table],
        ).fetchall()
        return [str(c) for c in rows[0][0]] if rows else []

    def column_sql_type(self, column: ColumnSpec) -> str:
        return {
            "integer": "BIGINT",
            "float": "DOUBLE",
            "text": "VARCHAR",
            "date": "DATE",
            "datetime": "TIMESTAMP",
        }[column.type_class]

    def close(self) -> None:
        self.con.close()
