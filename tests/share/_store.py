"""A small real OMOP store for the extract tests: lung cancer patients with location, stage,
treatments and deaths, written with the store's bulk loader, and the built-in ``lung`` cohort
built on it with :func:`oncobase.cohorts.build_cohort` (on DuckDB; on other engines, where the
cohort compiler does not run yet, the same cohort rows are written with the bulk loader)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from oncobase.cohorts import build_cohort, load_cohort
from oncobase.store import Backend, bulk_load, connect, create_store

COHORT = "lung"
# Common départements (many persons each) and one rare one (Lozère, 48: one person).
COMMON_DEPTS = ("75", "13", "69")
RARE_DEPT = "48"
RARE_ICD10 = "C34.8"  # held by one person only
# Identifier-like values planted in columns no permit can ask for.
SECRET_SOURCE_VALUE = "IPP-987654321"


def build_lung_store(path: Path, *, persons: int = 90, seed: int = 11) -> Path:
    """A DuckDB file filled by :func:`fill_lung_store`."""
    with connect(f"duckdb:///{path}") as backend:
        fill_lung_store(backend, persons=persons, seed=seed)
    return path


def fill_lung_store(backend: Backend, *, persons: int = 90, seed: int = 11) -> None:
    """``persons`` lung cancer patients (ids 1…persons) plus 10 breast cancer patients."""
    rng = np.random.default_rng(seed)
    n = persons + 10
    ids = list(range(1, n + 1))
    lung = [i <= persons for i in ids]
    create_store(backend)

    def load(table: str, columns: Mapping[str, Sequence[object]]) -> None:
        bulk_load(backend, table, pa.table(columns), step="test", source="builder")

    depts = [RARE_DEPT if i == 1 else COMMON_DEPTS[i % 3] for i in ids]
    load("location", {
        "location_id": ids, "county": depts,
        "address_1": [f"{i} rue secrète" for i in ids], "zip": ["75001"] * n,
    })  # fmt: skip
    load("person", {
        "person_id": ids,
        "gender_concept_id": [8507 if i % 2 else 8532 for i in ids],
        "year_of_birth": [int(y) for y in rng.integers(1940, 1960, n)],
        "month_of_birth": [int(m) for m in rng.integers(1, 13, n)],
        "race_concept_id": [0] * n, "ethnicity_concept_id": [0] * n,
        "location_id": ids, "person_source_value": [SECRET_SOURCE_VALUE] * n,
    })  # fmt: skip
    day = [dt.date(2016 + i % 6, 1 + i % 12, 1 + i % 27) for i in ids]
    codes = [
        (RARE_ICD10 if i == 2 else f"C34.{i % 2 + 1}") if is_lung else "C50.9"
        for i, is_lung in zip(ids, lung, strict=True)
    ]
    load("condition_occurrence", {
        "condition_occurrence_id": [1000 + i for i in ids], "person_id": ids,
        "condition_concept_id": [0] * n, "condition_start_date": day,
        "condition_type_concept_id": [32817] * n, "condition_source_value": codes,
        "condition_status_source_value": ["8140/3-" + c for c in codes],
    })  # fmt: skip
    load("measurement", {
        "measurement_id": [2000 + i for i in ids], "person_id": ids,
        "measurement_concept_id": [0] * n, "measurement_date": day,
        "measurement_type_concept_id": [32817] * n,
        "measurement_source_value": ["TNM stage group"] * n,
        "value_source_value": [("IIIA", "IV", "IB")[i % 3] for i in ids],
    })  # fmt: skip
    load("drug_exposure", {
        "drug_exposure_id": [3000 + i for i in ids], "person_id": ids,
        "drug_concept_id": [0] * n,
        "drug_exposure_start_date": [d + dt.timedelta(days=30) for d in day],
        "drug_exposure_end_date": [d + dt.timedelta(days=60) for d in day],
        "drug_type_concept_id": [32817] * n, "drug_source_value": ["L01XC03"] * n,
    })  # fmt: skip
    load("procedure_occurrence", {
        "procedure_occurrence_id": [4000 + i for i in ids], "person_id": ids,
        "procedure_concept_id": [0] * n, "procedure_date": day,
        "procedure_type_concept_id": [32817] * n, "procedure_source_value": ["GFFA004"] * n,
    })  # fmt: skip
    dead = [i for i in ids if i % 4 == 0]
    load("death", {
        "person_id": dead,
        "death_date": [day[i - 1] + dt.timedelta(days=400) for i in dead],
        "death_type_concept_id": [32817] * len(dead),
    })  # fmt: skip
    if backend.engine == "duckdb":
        build_cohort(backend, load_cohort(COHORT))
    else:  # the cohort compiler runs on Ibis over DuckDB: write the same rows directly
        members = [i for i in ids if lung[i - 1]]
        load("cohort_definition", {
            "cohort_definition_id": [1], "cohort_definition_name": [COHORT],
            "definition_type_concept_id": [0], "subject_concept_id": [1147314],
        })  # fmt: skip
        load("cohort", {
            "cohort_definition_id": [1] * len(members), "subject_id": members,
            "cohort_start_date": [day[i - 1] for i in members],
            "cohort_end_date": [day[i - 1] for i in members],
        })  # fmt: skip
