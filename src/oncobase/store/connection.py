"""The one connection factory of the clinical store."""

from __future__ import annotations

from oncobase.config import Settings, get_settings
from oncobase.errors import ConfigError
from oncobase.store.backend import Backend


def connect(url: str | None = None, *, settings: Settings | None = None) -> Backend:
    """Open the clinical store named by ``url`` (default: the settings' store URL).

    ``duckdb:///relative/path.duckdb``, ``duckdb:////absolute/path.duckdb``,
    ``duckdb:///:memory:`` and ``postgresql://user@host:port/dbname`` are accepted.
    """
    if url is None:
        settings = settings or get_settings()
        url = settings.resolved_store_url
        if url.startswith("duckdb:"):
            settings.ensure_home()
    scheme = url.split("://", 1)[0].split("+", 1)[0].lower()
    if scheme == "duckdb":
        from oncobase.store._duckdb import DuckDBBackend

        path = url.split("://", 1)[1]
        path = path[1:] if path.startswith("/") else path
        if not path:
            raise ConfigError("A DuckDB store URL needs a path: duckdb:///path/to/store.duckdb")
        return DuckDBBackend(url, path=path)
    if scheme in ("postgresql", "postgres"):
        from oncobase.store._postgres import PostgresBackend

        return PostgresBackend("postgresql://" + url.split("://", 1)[1])
    raise ConfigError(
        f"Unsupported store URL scheme {scheme!r}: use duckdb:///path or postgresql://host/db."
    )
