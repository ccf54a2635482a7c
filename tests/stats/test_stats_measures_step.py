"""The ``stats`` step's deaths and prevalence tables, against the request-time computation
they replace.

A real DuckDB store holds seeded OMOP rows (persons in three départements, several cancers a
person, deaths before and after the diagnosis); the pipeline's ``stats`` step writes
``stats__mortality`` and ``stats__prevalence``. The expected figures are computed here from the
pseudonymous cases of :func:`prevalence_cases_expr`, with :func:`age_groups_at` and the
counting-method core :func:`compute_prevalence` called once per group, as the explorer did at
request time, and deaths with plain numpy; not with the step's cell counter.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from tests.stats.test_stats_store_views import make_store_rows

from oncobase.config import load_settings
from oncobase.pipeline import run_pipeline
from oncobase.stats import compute_prevalence
from oncobase.stats.cases import AGE_GROUPS, store_tables
from oncobase.stats.measures import (
    age_groups_at,
    closing_date,
    count_prevalence_cells,
    prevalence_cases_expr,
)
from oncobase.store import Backend, bulk_load, connect, create_store
from oncobase.store.ibis import ibis_connection

Cases = dict[str, np.ndarray]


def _text(column: pa.ChunkedArray) -> np.ndarray:
    return np.array(["unknown" if v is None else str(v) for v in column.to_pylist()])


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Backend, Cases, int]:
    """The store after the stats step; the cases the former request-time code read; the last
    complete year."""
    folder = tmp_path_factory.mktemp("measures-step")
    backend = connect(f"duckdb:///{folder / 'store.duckdb'}")
    create_store(backend)
    for table, data in make_store_rows(n=1500, seed=23).items():
        bulk_load(backend, table, data, step="test", source="builder")
    report = run_pipeline(
        backend, load_settings(home=folder / "home"), only="stats", show_progress=False
    )
    assert report.ok, report.results
    tables = store_tables(ibis_connection(backend))
    raw = prevalence_cases_expr(tables).to_pyarrow()
    cases: Cases = {name: _text(raw.column(name)) for name in ("site_group", "sex", "departement")}
    cases["dx"] = raw.column("diagnosis_date").to_numpy().astype("datetime64[D]")
    cases["death"] = raw.column("death_date").to_numpy().astype("datetime64[D]")
    cases["yob"] = raw.column("year_of_birth").to_numpy()
    cases["mob"] = raw.column("month_of_birth").to_numpy()
    closing = closing_date(tables)
    assert closing is not None
    last_year = closing.year if (closing.month, closing.day) == (12, 31) else closing.year - 1
    return backend, cases, last_year


def expected_prevalence(
    cases: Cases, *, year: int, duration: str, by: tuple[str, ...]
) -> dict[tuple[str, ...], int]:
    """Prevalent cases on 31 December ``year`` by ``by``, one compute_prevalence per group:
    every group holding a case diagnosed by then, with its count (0 included)."""
    index = dt.date(year, 12, 31)
    known = cases["dx"] <= np.datetime64(index, "D")
    columns = {k: cases[k][known] for k in ("site_group", "sex", "departement")}
    columns["age_group"] = age_groups_at(cases["yob"][known], cases["mob"][known], on=index)
    labels = np.array(["|".join(str(columns[k][i]) for k in by) for i in range(known.sum())])
    uniq, group = np.unique(labels, return_inverse=True)
    durations = () if duration == "complete" else (int(duration),)
    measure = "complete" if duration == "complete" else f"{duration}-year"
    out: dict[tuple[str, ...], int] = {}
    for i, label in enumerate(uniq):  # one call per group
        rows = group.reshape(-1) == i
        table = compute_prevalence(
            cases["dx"][known][rows],
            cases["death"][known][rows],
            index_date=np.datetime64(index, "D"),
            durations=durations,
        )
        position = table.column("measure").to_pylist().index(measure)
        out[tuple(str(label).split("|"))] = int(table.column("count")[position].as_py())
    return out


def stored_prevalence(
    backend: Backend, *, year: int, duration: str, by: tuple[str, ...]
) -> dict[tuple[str, ...], int]:
    keys = ", ".join(by)
    rows = backend.query_arrow(
        f"SELECT {keys}, sum(cases) AS n FROM stats__prevalence "
        f"WHERE year = $1 AND duration = $2 GROUP BY {keys}",
        (year, duration),
    ).to_pylist()
    return {tuple("unknown" if r[k] is None else str(r[k]) for k in by): int(r["n"]) for r in rows}


def test_prevalence_by_site_five_years_in_the_last_year(store: tuple[Backend, Cases, int]) -> None:
    backend, cases, last_year = store
    by = ("site_group",)
    expected = expected_prevalence(cases, year=last_year, duration="5", by=by)
    assert stored_prevalence(backend, year=last_year, duration="5", by=by) == expected
    assert sum(expected.values()) > 100  # a real check, not an empty one


@pytest.mark.parametrize("duration", ["1", "5", "10", "complete"])
def test_prevalence_by_year_as_a_series(store: tuple[Backend, Cases, int], duration: str) -> None:
    backend, cases, last_year = store
    first_year = int(cases["dx"].min().astype("datetime64[Y]").astype(int)) + 1970
    stored = backend.query_arrow(
        "SELECT year, sex, sum(cases) AS n FROM stats__prevalence WHERE duration = $1 "
        "GROUP BY year, sex",
        (duration,),
    ).to_pylist()
    got = {(int(r["year"]), str(r["sex"])): int(r["n"]) for r in stored}
    assert {year for year, _ in got} == set(range(first_year, last_year + 1))
    for year in range(first_year, last_year + 1):
        expected = expected_prevalence(cases, year=year, duration=duration, by=("sex",))
        assert {sex: got[(year, sex)] for (y, sex) in got if y == year} == {
            k[0]: v for k, v in expected.items()
        }, year


def test_prevalence_cells_are_the_finest_groups_and_add_up(
    store: tuple[Backend, Cases, int],
) -> None:
    """Every cell of one index date and duration, zero counts included: the explorer's groups
    at request time, so that any coarser grouping is a sum of cells."""
    backend, cases, last_year = store
    by = ("site_group", "sex", "age_group", "departement")
    for year, duration in ((last_year, "10"), (last_year - 3, "1")):
        expected = expected_prevalence(cases, year=year, duration=duration, by=by)
        rows = backend.query_arrow(
            "SELECT site_group, sex, age_group, departement, cases FROM stats__prevalence "
            "WHERE year = $1 AND duration = $2",
            (year, duration),
        ).to_pylist()
        stored = [(tuple(str(r[k]) for k in by), int(r["cases"])) for r in rows]
        assert len(stored) == len({k for k, _ in stored})  # one row per cell
        assert dict(stored) == expected
        assert 0 in expected.values()  # cells with no prevalent case are kept, as before


def expected_deaths(cases: Cases, last_year: int) -> dict[str, np.ndarray]:
    """Deaths among cases (one per case and site group), up to the last complete year."""
    dead = ~np.isnat(cases["death"])
    death = cases["death"][dead]
    year = death.astype("datetime64[Y]").astype(int) + 1970
    keep = year <= last_year
    month = death.astype("datetime64[M]").astype(int) % 12 + 1
    age = year - cases["yob"][dead] - (month < cases["mob"][dead]).astype(int)
    return {
        "site_group": cases["site_group"][dead][keep],
        "sex": cases["sex"][dead][keep],
        "age_group": np.asarray(AGE_GROUPS)[np.clip(age // 5, 0, len(AGE_GROUPS) - 1)][keep],
        "year": year[keep],
        "departement": cases["departement"][dead][keep],
    }


def test_deaths_by_departement_and_by_every_cell(store: tuple[Backend, Cases, int]) -> None:
    backend, cases, last_year = store
    truth = expected_deaths(cases, last_year)
    rows = backend.query_arrow(
        "SELECT departement, sum(deaths) AS n FROM stats__mortality GROUP BY departement"
    ).to_pylist()
    depts, counts = np.unique(truth["departement"], return_counts=True)
    assert {str(r["departement"]): int(r["n"]) for r in rows} == dict(
        zip(depts.tolist(), counts.tolist(), strict=True)
    )
    keys = ("site_group", "sex", "age_group", "year", "departement")
    cells = backend.query_arrow(f"SELECT {', '.join(keys)}, deaths FROM stats__mortality")
    stored = {tuple(str(r[k]) for k in keys): int(r["deaths"]) for r in cells.to_pylist()}
    labels = np.array(["|".join(str(truth[k][i]) for k in keys) for i in range(truth["year"].size)])
    uniq, n = np.unique(labels, return_counts=True)
    assert stored == {tuple(u.split("|")): int(c) for u, c in zip(uniq, n, strict=True)}
    assert max(int(r["year"]) for r in cells.to_pylist()) == last_year  # no incomplete year


def test_an_empty_store_gets_empty_tables(tmp_path: Path) -> None:
    with connect(f"duckdb:///{tmp_path / 'store.duckdb'}") as backend:
        report = run_pipeline(
            backend, load_settings(home=tmp_path / "home"), only="stats", show_progress=False
        )
        assert report.ok, report.results
        for table in ("stats__mortality", "stats__prevalence"):
            assert backend.table_exists(table) and backend.count_rows(table) == 0


def test_count_prevalence_cells_by_hand() -> None:
    cases = pa.table(
        {
            "site_group": ["lung", "lung", "lung", "breast"],
            "sex": ["M", "M", "M", "F"],
            "departement": ["75", "75", None, "13"],
            "diagnosis_date": pa.array(
                [dt.date(2019, 3, 1), dt.date(2021, 6, 1), dt.date(2021, 1, 1), dt.date(2021, 5, 1)]
            ),
            "death_date": pa.array([None, dt.date(2021, 12, 31), None, dt.date(2022, 1, 1)]),
            "year_of_birth": [1950, 1950, 1950, 1980],
            "month_of_birth": [3, 12, 7, 7],
        }
    )
    table = count_prevalence_cells(cases, last_year=2021, durations=("1", "complete"))
    rows = {
        (r["year"], r["duration"], r["site_group"], r["age_group"], r["departement"]): r["cases"]
        for r in table.to_pylist()
    }
    assert rows == {
        (2019, "1", "lung", "65-69", "75"): 1,
        (2019, "complete", "lung", "65-69", "75"): 1,
        (2020, "1", "lung", "70-74", "75"): 0,  # diagnosed more than a year before
        (2020, "complete", "lung", "70-74", "75"): 1,
        # 2021: one alive (diagnosed 2019), one who died on the index date itself
        (2021, "1", "lung", "70-74", "75"): 0,
        (2021, "complete", "lung", "70-74", "75"): 1,
        (2021, "1", "lung", "70-74", None): 1,
        (2021, "complete", "lung", "70-74", None): 1,
        (2021, "1", "breast", "40-44", "13"): 1,
        (2021, "complete", "breast", "40-44", "13"): 1,
    }
