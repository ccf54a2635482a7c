"""Registry figures from the OMOP store: the same Ibis expressions on DuckDB and on Spark,
checked against an independent computation on the generated rows."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest

from oncobase.stats import estimate_km
from oncobase.stats.cases import cancer_cases_expr, site_groups, store_tables
from oncobase.stats.store_views import compute_store_incidence, compute_store_survival
from oncobase.store import Backend, bulk_load, create_store
from oncobase.store.ibis import ibis_connection, spark_connection

CLOSING = dt.date(2024, 12, 31)
CODES = ["C50.4", "C504", "C34.1", "C18.7", "C61", "C25.0", "C43.5", "C90.0", "I10", "D05.1"]


def make_store_rows(n: int = 3000, seed: int = 11) -> dict[str, pa.Table]:
    rng = np.random.default_rng(seed)
    person_id = np.arange(1, n + 1)
    sex = rng.choice([8507, 8532], n)
    year_of_birth = rng.integers(1925, 1990, n)
    month_of_birth = rng.integers(1, 13, n)
    location_id = rng.integers(1, 4, n)
    n_cond = n * 2
    cond_person = rng.integers(1, n + 1, n_cond)
    start = np.datetime64("2015-01-01") + rng.integers(0, 3650, n_cond).astype("timedelta64[D]")
    codes = rng.choice(CODES, n_cond)
    dead = rng.random(n) < 0.4
    death_day = np.datetime64("2015-06-01") + rng.integers(0, 3700, n).astype("timedelta64[D]")
    return {
        "person": pa.table(
            {
                "person_id": person_id,
                "gender_concept_id": sex,
                "year_of_birth": year_of_birth,
                "month_of_birth": month_of_birth,
                "race_concept_id": np.zeros(n, dtype=np.int64),
                "ethnicity_concept_id": np.zeros(n, dtype=np.int64),
                "location_id": location_id,
            }
        ),
        "location": pa.table(
            {"location_id": [1, 2, 3], "county": ["75", "2A", "35"], "state": ["11", "94", "53"]}
        ),
        "condition_occurrence": pa.table(
            {
                "condition_occurrence_id": np.arange(1, n_cond + 1),
                "person_id": cond_person,
                "condition_concept_id": np.zeros(n_cond, dtype=np.int64),
                "condition_start_date": pa.array(start),
                "condition_type_concept_id": np.full(n_cond, 32817),
                "condition_source_value": pa.array(codes.astype(object)),
            }
        ),
        "death": pa.table(
            {
                "person_id": person_id[dead],
                "death_date": pa.array(death_day[dead]),
                "death_type_concept_id": np.full(int(dead.sum()), 32815),
            }
        ),
    }


def expected_cases(rows: dict[str, pa.Table]) -> dict[tuple[int, str], dict[str, object]]:
    """The first diagnosis per person and site group, computed in plain Python."""
    groups = site_groups()

    def group_of(code: str) -> str | None:
        c3 = code.replace(".", "").upper()[:3]
        if not (c3.startswith("C") and c3[1:].isdigit()):
            return None
        return next((g.key for g in groups if g.first <= c3 <= g.last), None)

    persons = {p["person_id"]: p for p in rows["person"].to_pylist()}
    deaths = {d["person_id"]: d["death_date"] for d in rows["death"].to_pylist()}
    first: dict[tuple[int, str], dict[str, object]] = {}
    for c in rows["condition_occurrence"].to_pylist():
        group = group_of(c["condition_source_value"])
        if group is None:
            continue
        key = (c["person_id"], group)
        if key not in first or c["condition_start_date"] < first[key]["date"]:
            first[key] = {"date": c["condition_start_date"]}
    for (pid, _group), case in first.items():
        p = persons[pid]
        date = case["date"]
        assert isinstance(date, dt.date)
        age = date.year - p["year_of_birth"] - (date.month < p["month_of_birth"])
        case["sex"] = "M" if p["gender_concept_id"] == 8507 else "F"
        case["age"] = age
        died = deaths.get(pid)
        event = died is not None and died <= CLOSING
        end = died if event else CLOSING
        case["time"] = (end - date).days
        case["event"] = int(event)
    return first


def load_into_store(backend: Backend, rows: dict[str, pa.Table]) -> None:
    create_store(backend)
    for table, data in rows.items():
        bulk_load(backend, table, data, step="test", source="generated")


@pytest.fixture(scope="module")
def rows() -> dict[str, pa.Table]:
    return make_store_rows()


@pytest.fixture
def duckdb_tables(duckdb_backend: Backend, rows: dict[str, pa.Table]) -> dict:
    load_into_store(duckdb_backend, rows)
    return store_tables(ibis_connection(duckdb_backend))


def test_incident_cases_match_an_independent_count(duckdb_tables: dict, rows: dict) -> None:
    expected = expected_cases(rows)
    cases = cancer_cases_expr(duckdb_tables).to_pyarrow().to_pylist()
    assert len(cases) == len(expected)
    for case in cases:
        truth = expected[(case["person_id"], case["site_group"])]
        assert case["diagnosis_date"] == truth["date"]
        assert (case["sex"], case["age"]) == (truth["sex"], truth["age"])
    incidence = compute_store_incidence(duckdb_tables, by=("site_group", "sex"))
    counted = Counter((k[1], v["sex"]) for k, v in expected.items())
    got = {(r["site_group"], r["sex"]): r["cases"] for r in incidence.to_pylist()}
    assert got == dict(counted)
    assert "hypertension" not in got
    assert {g for g, _ in got} <= {g.key for g in site_groups()}


def test_survival_matches_kaplan_meier_on_the_same_follow_up(
    duckdb_tables: dict, rows: dict
) -> None:
    expected = expected_cases(rows)
    result = compute_store_survival(duckdb_tables, closing_date=CLOSING, by=("site_group",))
    assert result.num_rows > 0
    for row in result.to_pylist():
        group = [v for (_, g), v in expected.items() if g == row["site_group"] and v["time"] >= 0]
        curve = estimate_km([c["time"] for c in group], [c["event"] for c in group])
        at = curve.at([row["time"]]).to_pylist()[0]
        assert row["cases"] == len(group)
        assert row["deaths"] == sum(c["event"] for c in group)
        assert row["estimate"] == pytest.approx(at["estimate"], rel=1e-12)
        assert row["ci_lower"] == pytest.approx(at["ci_lower"], rel=1e-12)
        assert 0.0 <= row["estimate"] <= 1.0


@pytest.mark.spark
def test_duckdb_and_spark_give_the_same_figures(duckdb_tables: dict, rows: dict, spark) -> None:
    for name, table in rows.items():
        spark.createDataFrame(table).createOrReplaceTempView(name)
    spark_tables = store_tables(spark_connection(spark))
    by = ("site_group", "sex", "age_group", "year")
    on_duckdb = compute_store_incidence(duckdb_tables, by=by).sort_by(
        [(k, "ascending") for k in by]
    )
    on_spark = compute_store_incidence(spark_tables, by=by).sort_by([(k, "ascending") for k in by])
    assert on_spark.to_pylist() == on_duckdb.to_pylist()
    surv_duck = compute_store_survival(duckdb_tables, closing_date=CLOSING)
    surv_spark = compute_store_survival(spark_tables, closing_date=CLOSING)
    assert surv_spark.to_pylist() == surv_duck.to_pylist()


def test_store_verb_prints_figures_from_the_store(home, rows: dict[str, pa.Table]) -> None:
    import json

    from typer.testing import CliRunner

    from oncobase.cli.stats import app
    from oncobase.store import connect

    with connect(settings=home) as backend:
        load_into_store(backend, rows)
    runner = CliRunner()
    result = runner.invoke(app, ["store", "incidence", "--by", "site_group", "--format", "json"])
    assert result.exit_code == 0, result.output
    counted = Counter(g for _, g in expected_cases(rows))
    assert {r["site_group"]: r["cases"] for r in json.loads(result.output)} == dict(counted)
    result = runner.invoke(
        app,
        ["store", "survival", "--by", "sex", "--closing-date", "2024-12-31", "--format", "json"],
    )
    assert result.exit_code == 0, result.output
    assert {r["sex"] for r in json.loads(result.output)} == {"M", "F"}
    bad = runner.invoke(app, ["store", "survival", "--closing-date", "31/12/2024"])
    assert bad.exit_code == 1
    assert "--closing-date" in bad.output
