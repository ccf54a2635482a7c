"""Shared fixtures: real DuckDB files, a real throwaway PostgreSQL database, a home folder."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from oncobase.config import Settings, get_settings
from oncobase.store import Backend, connect
from oncobase.store.testing import temporary_postgres_database, with_schema

# Property tests are judged on what they find, not on time: a loaded CI machine must not
# turn a slow example into a failure.
hypothesis_settings.register_profile("oncobase", deadline=None)
hypothesis_settings.load_profile("oncobase")

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def shared_path(*parts: str) -> Path:
    """A file under ../shared/, or skip the test naming what is missing."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared reference folder ships beside the repo in CI)")
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """An empty ONCOBASE_HOME, and settings read from it."""
    folder = tmp_path / "home"
    monkeypatch.setenv("ONCOBASE_HOME", str(folder))
    monkeypatch.delenv("ONCOBASE_STORE_URL", raising=False)
    yield get_settings(fresh=True)
    get_settings(fresh=True)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped at the end."""
    with temporary_postgres_database() as url:
        yield url


@pytest.fixture
def duckdb_backend(tmp_path: Path) -> Iterator[Backend]:
    with connect(f"duckdb:///{tmp_path / 'store.duckdb'}") as backend:
        yield backend


@pytest.fixture
def postgres_backend(postgres_url: str) -> Iterator[Backend]:
    """A connection whose search_path is a schema of its own, dropped afterwards."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    with connect(postgres_url) as admin:
        admin.execute(f'CREATE SCHEMA "{schema}"')
    try:
        with connect(with_schema(postgres_url, schema)) as backend:
            yield backend
    finally:
        with connect(postgres_url) as admin:
            admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["duckdb", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> Backend:
    """Each backend-agnostic test runs once per engine."""
    name = "duckdb_backend" if request.param == "duckdb" else "postgres_backend"
    result: Backend = request.getfixturevalue(name)
    return result


@pytest.fixture(scope="session")
def spark() -> Iterator[object]:
    """One local Spark session (2 cores, no UI) for the whole test session."""
    pyspark_sql = pytest.importorskip("pyspark.sql", reason="pyspark is a dev dependency")
    session = (
        pyspark_sql.SparkSession.builder.master("local[2]")
        .appName("oncobase-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()
