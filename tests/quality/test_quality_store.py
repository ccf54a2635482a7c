"""Store checks (DQD style) and a full quality run on a small real DuckDB store."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pytest

from oncobase.quality import (
    QUALITY_TABLES,
    build_store_report,
    ensure_quality_tables,
    quality_summary,
    render_html_report,
    run_quality,
    run_store_checks,
)
from oncobase.store import Backend, bulk_load, create_store
from oncobase.store.spec import platform_tables

D = dt.date


def _load(backend: Backend) -> None:
    create_store(backend)
    person = pa.table(
        {
            "person_id": [1, 2, 3, 4],
            "gender_concept_id": [8507, 8532, 8532, 8507],
            "year_of_birth": [1950, 1960, 1700, 1980],  # 1700: implausibly low
            "month_of_birth": [3, 5, 13, 1],  # 13: implausibly high
            "race_concept_id": [0, 0, 0, 0],
            "ethnicity_concept_id": [0, 0, 0, 0],
        }
    )
    conditions = pa.table(
        {
            "condition_occurrence_id": [10, 11, 12, 13, 14],
            "person_id": [1, 1, 2, 4, 4],
            "condition_concept_id": [0, 0, 0, 0, 0],
            "condition_start_date": [
                D(2019, 1, 1),
                D(2020, 1, 1),
                D(2021, 1, 1),
                D(2018, 1, 1),
                D(2022, 1, 1),
            ],
            "condition_end_date": [None, None, D(2020, 1, 1), None, None],  # before start
            "condition_type_concept_id": [32879] * 5,
            "condition_source_value": ["C18.7", "C18.2", "C50.4", "C53.9", "C61"],
            "condition_status_source_value": [
                "8140/3-C18.7",
                "8140/3-C18.2",
                "8500/3-C50.4",
                "8070/3-C53.9",
                "8140/3-C61.9",
            ],
        }
    )
    death = pa.table({"person_id": [4], "death_date": [D(2021, 1, 1)]})  # before tumour 14
    periods = pa.table(
        {
            "observation_period_id": [1, 2, 4],
            "person_id": [1, 2, 4],
            "observation_period_start_date": [D(2019, 1, 1), D(2021, 1, 1), D(2018, 1, 1)],
            "observation_period_end_date": [D(2023, 1, 1), D(2023, 1, 1), D(2022, 1, 1)],
            "period_type_concept_id": [32879] * 3,
        }
    )
    for name, data in (("person", person), ("condition_occurrence", conditions),
                       ("death", death), ("observation_period", periods)):  # fmt: skip
        bulk_load(backend, name, data, step="test", source="test")


@pytest.fixture
def store(duckdb_backend: Backend) -> Backend:
    _load(duckdb_backend)
    return duckdb_backend


def _status(results: list, check: str, table: str, field: str | None) -> str:
    for r in results:
        if (r.check_id, r.table, r.field) == (check, table, field):
            return str(r.status)
    raise AssertionError(f"no {check} on {table}.{field}")


def test_dqd_checks_find_the_planted_problems(store: Backend) -> None:
    results = run_store_checks(store)
    assert _status(results, "plausibleValueLow", "person", "year_of_birth") == "failed"
    assert _status(results, "plausibleValueHigh", "person", "month_of_birth") == "failed"
    assert _status(results, "plausibleValueHigh", "person", "year_of_birth") == "passed"
    assert _status(results, "plausibleStartBeforeEnd", "condition_occurrence",
                   "condition_end_date") == "failed"  # fmt: skip
    assert _status(results, "plausibleBeforeDeath", "condition_occurrence",
                   "condition_start_date") == "failed"  # fmt: skip
    assert _status(results, "plausibleGender", "condition_occurrence",
                   "condition_source_value") == "failed"  # fmt: skip
    assert _status(results, "isRequired", "person", "person_id") == "passed"
    assert _status(results, "isPrimaryKey", "person", "person_id") == "passed"
    assert _status(results, "isForeignKey", "condition_occurrence", "person_id") == "passed"
    assert _status(results, "cdmTable", "person", None) == "passed"
    # person 3 has no observation period: 25 % > threshold 0
    assert _status(results, "measurePersonCompleteness", "observation_period", None) == "failed"


def test_foreign_key_failure(store: Backend) -> None:
    store.execute(
        "INSERT INTO condition_occurrence (condition_occurrence_id, person_id, "
        "condition_concept_id, condition_start_date, condition_type_concept_id) "
        "VALUES (99, 999, 0, DATE '2020-01-01', 32879)"
    )
    results = run_store_checks(store)
    assert _status(results, "isForeignKey", "condition_occurrence", "person_id") == "failed"


def test_run_saves_results_report_and_summary(store: Backend, tmp_path: Path) -> None:
    run = run_quality(store, as_of=D(2025, 1, 1))
    flags = dict(zip(run.tumours.flags["tumour_id"].to_pylist(),
                     run.tumours.flags["flag"].to_pylist(), strict=True))  # fmt: skip
    assert flags["11"] == "warning"  # second colon adenocarcinoma: duplicate tumour
    assert flags["13"] == "error"  # cervix in a man
    assert flags["14"] == "error"  # tumour after death
    counts = {name: store.count_rows(name) for name in
              ("quality__runs", "quality__results", "quality__issues", "quality__labels")}  # fmt: skip
    assert counts["quality__runs"] == 1 and all(counts.values())
    report = build_store_report(store)
    assert report is not None
    assert report["run"]["run_id"] == run.run_id
    assert {x["source"] for x in report["labels"]} == {"store"}  # no ingest record keys
    mv = [r for r in report["indicators"] if r["indicator"] == "MV_PCT"]
    assert mv and all(r["numerator"] is None for r in mv)  # basis not carried by the store
    html = render_html_report(report)
    assert "plausibleGender" in html and "Quality label by source" in html
    summary = quality_summary(store)
    text = json.dumps(summary)
    assert summary["last_run"]["run_id"] == run.run_id
    assert summary["labels"][0]["label"] in "ABC"
    assert sum(r["count"] for r in summary["by_level"]) == store.count_rows("quality__issues")
    for issue in summary["sample_issues"]:
        assert set(issue) == {"check_id", "level", "source", "year", "site", "message"}
    assert "record_id" not in text and "person_id" not in text


def test_summary_without_a_run(duckdb_backend: Backend) -> None:
    create_store(duckdb_backend)
    assert quality_summary(duckdb_backend)["last_run"] is None


def test_quality_tables_come_from_the_platform_spec(duckdb_backend: Backend) -> None:
    created = ensure_quality_tables(duckdb_backend)
    assert set(created) == {t.name for t in QUALITY_TABLES}
    assert {
        "quality__runs",
        "quality__results",
        "quality__issues",
        "quality__indicators",
        "quality__labels",
    } <= {t.name for t in QUALITY_TABLES}
    assert ensure_quality_tables(duckdb_backend) == []
    known = {t.name for t in platform_tables()}
    assert {t.name for t in QUALITY_TABLES} <= known
