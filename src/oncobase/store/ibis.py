"""Ibis connections over the store, for analytics written once for every engine."""

from __future__ import annotations

from typing import Any

import ibis

from oncobase.errors import NotSupportedError
from oncobase.store.backend import Backend


def ibis_connection(backend: Backend) -> Any:
    """An Ibis backend reading the same store (sharing the connection on DuckDB)."""
    if backend.engine == "duckdb":
        from oncobase.store._duckdb import DuckDBBackend

        assert isinstance(backend, DuckDBBackend)
        return ibis.duckdb.from_connection(backend.con)
    raise NotSupportedError(
        f"Ibis analytics on a {backend.engine} store are not wired yet: export the OMOP "
        "tables to Parquet and read them with DuckDB or Spark."
    )


def spark_connection(session: Any) -> Any:
    """An Ibis backend over a SparkSession (tables registered as views or in its catalog)."""
    return ibis.pyspark.connect(session)
