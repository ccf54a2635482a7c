"""Benchmark: build every built-in cohort on a DuckDB store of 1,000,000 patients (< 30 s).

OMOP rows are generated directly with numpy (one cancer per patient, a second primary for
10 %, sites drawn from a realistic mix of ICD-10/ICD-O-3 pairs), loaded once, then each
built-in cohort is built (compiled, run, written to ``cohort``/``cohort_definition``) and
timed. Usage: ``uv run python benchmarks/bench_cohorts.py [--patients N] [--store PATH]``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from oncobase.cohorts import build_cohort, list_cohorts
from oncobase.store import bulk_load, connect, create_store

# (ICD-10, ICD-O-3 "morphology/behaviour-topography", weight)
CODES = [
    ("C25.0", "8500/3-C25.0", 4), ("C25.1", "8240/3-C25.1", 0.3), ("C34.1", "8140/3-C34.1", 10),
    ("C34.3", "8070/3-C34.3", 6), ("C34.1", "8041/3-C34.1", 3), ("C22.0", "8170/3-C22.0", 3),
    ("C15.5", "8070/3-C15.5", 1.5), ("C16.2", "8140/3-C16.2", 2), ("C71.1", "9440/3-C71.1", 1.5),
    ("C92.0", "9861/3-C42.1", 1), ("C45.0", "9052/3-C38.4", 0.5), ("C23", "8140/3-C23.9", 0.6),
    ("C50.4", "8500/3-C50.4", 18), ("C61", "8140/3-C61.9", 16), ("C18.7", "8140/3-C18.7", 12),
    ("C67.2", "8120/3-C67.2", 5), ("C43.5", "8743/3-C44.5", 5), ("C64", "8310/3-C64.9", 4),
]  # fmt: skip


def generate_rows(patients: int, seed: int = 1) -> dict[str, pa.Table]:
    """OMOP person, location, condition_occurrence, death, observation_period."""
    rng = np.random.default_rng(seed)
    person_id = np.arange(1, patients + 1, dtype=np.int64)
    weights = np.array([c[2] for c in CODES], dtype=float)
    n_cond = patients + patients // 10
    cond_person = np.concatenate([person_id, rng.integers(1, patients + 1, patients // 10)])
    pick = rng.choice(len(CODES), n_cond, p=weights / weights.sum())
    icd = np.array([c[0] for c in CODES], dtype=object)[pick]
    icdo = np.array([c[1] for c in CODES], dtype=object)[pick]
    start = np.datetime64("2015-01-01") + rng.integers(0, 3650, n_cond).astype("timedelta64[D]")
    dead = rng.random(patients) < 0.5
    death_day = np.datetime64("2016-01-01") + rng.integers(0, 3300, patients).astype(
        "timedelta64[D]"
    )
    obs_end = np.where(dead, death_day, np.datetime64("2025-12-31"))
    return {
        "location": pa.table(
            {
                "location_id": np.arange(1, 5),
                "county": ["75", "69", "13", "35"],
                "state": ["11", "84", "93", "53"],
            }
        ),
        "person": pa.table(
            {
                "person_id": person_id,
                "gender_concept_id": rng.choice([8507, 8532], patients),
                "year_of_birth": rng.integers(1920, 1990, patients),
                "month_of_birth": rng.integers(1, 13, patients),
                "race_concept_id": np.zeros(patients, np.int64),
                "ethnicity_concept_id": np.zeros(patients, np.int64),
                "location_id": rng.integers(1, 5, patients),
            }
        ),
        "condition_occurrence": pa.table(
            {
                "condition_occurrence_id": np.arange(1, n_cond + 1, dtype=np.int64),
                "person_id": cond_person,
                "condition_concept_id": np.zeros(n_cond, np.int64),
                "condition_start_date": pa.array(start),
                "condition_type_concept_id": np.full(n_cond, 32817),
                "condition_source_value": pa.array(icd, pa.string()),
                "condition_status_source_value": pa.array(icdo, pa.string()),
            }
        ),
        "death": pa.table(
            {
                "person_id": person_id[dead],
                "death_date": pa.array(death_day[dead]),
                "death_type_concept_id": np.full(int(dead.sum()), 32815),
            }
        ),
        "observation_period": pa.table(
            {
                "observation_period_id": person_id,
                "person_id": person_id,
                "observation_period_start_date": pa.array(
                    np.full(patients, np.datetime64("2010-01-01"))
                ),
                "observation_period_end_date": pa.array(obs_end),
                "period_type_concept_id": np.full(patients, 32817),
            }
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--store", type=Path, default=None)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="bench_cohorts_"))
    path = args.store or folder / "store.duckdb"
    with connect(f"duckdb:///{path}") as backend:
        started = time.perf_counter()
        create_store(backend)
        for table, data in generate_rows(args.patients).items():
            bulk_load(backend, table, data, step="bench", source="numpy")
        print(
            f"store of {args.patients:,} patients loaded in {time.perf_counter() - started:.1f} s"
        )
        total = 0.0
        for definition in list_cohorts():
            t0 = time.perf_counter()
            build = build_cohort(backend, definition)
            seconds = time.perf_counter() - t0
            total += seconds
            print(f"{definition.name:28s} {build.members:>9,} members {seconds:6.2f} s")
        verdict = "OK" if total < 30 else "TOO SLOW"
        print(
            f"all {len(list_cohorts())} built-in cohorts: {total:.1f} s (target < 30 s) {verdict}"
        )


if __name__ == "__main__":
    main()
