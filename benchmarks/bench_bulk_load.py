"""Bulk-load benchmark: OncoBase's Arrow → OMOP path vs pandas ``to_sql``.

Loads a ``condition_occurrence``-shaped table (all 16 OMOP columns, realistic types) into a
fresh DuckDB store and a fresh PostgreSQL database (the server on 127.0.0.1:5432, or a
throwaway embedded one), then loads the same rows with a plain pandas ``DataFrame.to_sql``
(SQLAlchemy + psycopg) into PostgreSQL as the peer, and prints rows/s and the ratios.

    uv run python benchmarks/bench_bulk_load.py                 # 5,000,000 rows
    uv run python benchmarks/bench_bulk_load.py --rows 1000000 --peer-rows 100000

pandas ``to_sql`` runs at a few tens of thousands of rows per second, so by default it is
timed on the first ``--peer-rows`` rows (its throughput is flat in the row count); pass
``--peer-rows`` equal to ``--rows`` to time it on everything.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from oncobase.store import bulk_load, connect, create_store
from oncobase.store.testing import temporary_postgres_database


def make_conditions(n: int, seed: int = 2026) -> pa.Table:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2015-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
    end = start + rng.integers(0, 400, n).astype("timedelta64[D]")
    sites = np.array([f"C{c:02d}.{d}" for c in range(0, 97) for d in range(10)], dtype=object)
    return pa.table(
        {
            "condition_occurrence_id": np.arange(1, n + 1, dtype=np.int64),
            "person_id": rng.integers(1, n // 3 + 2, n),
            "condition_concept_id": rng.integers(2_000_000_000, 2_000_001_000, n),
            "condition_start_date": pa.array(start),
            "condition_start_datetime": pa.array(start.astype("datetime64[us]")),
            "condition_end_date": pa.array(end),
            "condition_end_datetime": pa.array(end.astype("datetime64[us]")),
            "condition_type_concept_id": np.full(n, 32817, dtype=np.int64),
            "condition_status_concept_id": rng.choice([0, 32902, 32908], n),
            "stop_reason": pa.nulls(n, pa.string()),
            "provider_id": rng.integers(1, 5000, n),
            "visit_occurrence_id": rng.integers(1, n, n),
            "visit_detail_id": pa.nulls(n, pa.int64()),
            "condition_source_value": pa.array(sites[rng.integers(0, len(sites), n)], pa.string()),
            "condition_source_concept_id": rng.integers(2_000_000_000, 2_000_001_000, n),
            "condition_status_source_value": pa.array(
                np.array(["DP", "DAS", "DR"], dtype=object)[rng.integers(0, 3, n)], pa.string()
            ),
        }
    )


def time_oncobase(url: str, data: pa.Table) -> float:
    with connect(url) as backend:
        create_store(backend)
        started = time.perf_counter()
        bulk_load(backend, "condition_occurrence", data, step="bench", source="benchmark")
        seconds = time.perf_counter() - started
        assert backend.count_rows("condition_occurrence") == data.num_rows
    return seconds


def time_pandas_to_sql(url: str, data: pa.Table) -> float:
    import sqlalchemy

    frame = data.to_pandas()
    engine = sqlalchemy.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with connect(url) as backend:
        backend.execute("DROP TABLE IF EXISTS condition_occurrence")
        create_store(backend)
    started = time.perf_counter()
    frame.to_sql("condition_occurrence", engine, if_exists="append", index=False)
    seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--peer-rows", type=int, default=200_000)
    args = parser.parse_args()

    print(f"generating {args.rows:,} condition_occurrence rows …", flush=True)
    data = make_conditions(args.rows)
    peer_rows = min(args.peer_rows, args.rows)
    results: dict[str, tuple[int, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        url = f"duckdb:///{Path(folder) / 'bench.duckdb'}"
        results["OncoBase bulk_load → DuckDB"] = (args.rows, time_oncobase(url, data))
    with temporary_postgres_database() as pg_url:
        results["OncoBase bulk_load → PostgreSQL"] = (args.rows, time_oncobase(pg_url, data))
        seconds = time_pandas_to_sql(pg_url, data.slice(0, peer_rows))
        results["pandas to_sql → PostgreSQL (peer)"] = (peer_rows, seconds)

    rates = {name: rows / seconds for name, (rows, seconds) in results.items()}
    peer = rates["pandas to_sql → PostgreSQL (peer)"]
    print(f"\n{'load':<38} {'rows':>12} {'seconds':>9} {'rows/s':>14} {'× pandas':>9}")
    for name, (rows, seconds) in results.items():
        ratio = rates[name] / peer
        print(f"{name:<38} {rows:>12,} {seconds:>9.2f} {rates[name]:>14,.0f} {ratio:>9.1f}")
    duck = rates["OncoBase bulk_load → DuckDB"]
    verdict = "meets" if duck >= 1_000_000 else "MISSES"
    print(f"\nDuckDB target ≥ 1,000,000 rows/s: {verdict} ({duck:,.0f} rows/s)")


if __name__ == "__main__":
    main()
