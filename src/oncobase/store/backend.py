"""The narrow interface every store engine implements.

Orchestrating methods are final and live here; adapters (``_duckdb.py``, ``_postgres.py``)
only fill in the engine-specific hooks.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import TracebackType
from typing import ClassVar, final

import pyarrow as pa

from oncobase.store.spec import ColumnSpec


@dataclass(frozen=True, kw_only=True)
class ColumnInfo:
    """A column as the engine reports it."""

    name: str
    type_class: str
    nullable: bool


class Backend(ABC):
    """A connection to the clinical store on one engine.

    SQL placeholders are positional ``$1, $2 …`` on every engine.
    """

    engine: ClassVar[str]

    def __init__(self, url: str) -> None:
        self.url = url
        self.in_transaction = False

    # -- hooks -----------------------------------------------------------------------------
    @abstractmethod
    def execute(self, sql: str, params: Sequence[object] = ()) -> None:
        """Run one statement that returns nothing."""

    @abstractmethod
    def query_arrow(self, sql: str, params: Sequence[object] = ()) -> pa.Table:
        """Run a query and return its result as an Arrow table."""

    @abstractmethod
    def _append_arrow(self, table: str, data: pa.Table) -> None:
        """Append an Arrow table (already cast to the table spec) with the bulk path."""

    @abstractmethod
    def list_tables(self) -> list[str]:
        """Names of the base tables in the store's schema, sorted."""

    @abstractmethod
    def describe(self, table: str) -> list[ColumnInfo]:
        """Columns of a table in their declared order."""

    @abstractmethod
    def primary_key(self, table: str) -> list[str]:
        """Primary-key columns of a table."""

    @abstractmethod
    def column_sql_type(self, column: ColumnSpec) -> str:
        """The engine's SQL type for a column of the spec."""

    @abstractmethod
    def close(self) -> None:
        """Release the connection."""

    # -- shared behaviour ------------------------------------------------------------------
    @final
    def table_exists(self, table: str) -> bool:
        return table in self.list_tables()

    @final
    def scalar(self, sql: str, params: Sequence[object] = ()) -> object:
        """The first column of the first row of a query, or None."""
        result = self.query_arrow(sql, params)
        if result.num_rows == 0:
            return None
        return result.column(0)[0].as_py()

    @final
    def count_rows(self, table: str) -> int:
        value = self.scalar(f"SELECT count(*) FROM {quote_ident(table)}")
        return int(value) if isinstance(value, int) else 0

    @final
    def append_arrow(self, table: str, data: pa.Table) -> None:
        """Append rows with the engine's bulk path (never row-by-row INSERT)."""
        if data.num_rows:
            self._append_arrow(table, data)

    @final
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All statements inside commit together or not at all (nested: joins the outer)."""
        if self.in_transaction:
            yield
            return
        self.execute("BEGIN TRANSACTION")
        self.in_transaction = True
        try:
            yield
        except BaseException:
            self.in_transaction = False
            self.execute("ROLLBACK")
            raise
        self.in_transaction = False
        self.execute("COMMIT")

    def __enter__(self) -> Backend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def quote_ident(name: str) -> str:
    """Double-quote an SQL identifier."""
    return '"' + name.replace('"', '""') + '"'
