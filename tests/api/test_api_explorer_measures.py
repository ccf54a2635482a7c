"""Deaths among registered cases, prevalence and rates in the explorer and the open API.

A real DuckDB store holds seeded OMOP rows (persons, residences, cancers, deaths) written with
the store's bulk loader, and the aggregate tables the pipeline's ``stats`` step computes from
them (the explorer reads only those); the expected figures are recomputed here from the seeded
rows with plain numpy, independently of the Ibis expressions and of the prevalence core.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient
from tests.api._web import published_counts

from oncobase.api import WebSettings, create_app
from oncobase.config import load_settings
from oncobase.pipeline import run_pipeline
from oncobase.stats.standardise import load_standard_population
from oncobase.store import Backend, bulk_load, connect, create_store

AGE_GROUPS = [*(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+"]
SITES = {"C50.9": "breast", "C34.1": "lung", "C18.7": "colon", "C61": "prostate"}
DEPTS = {"75": "11", "13": "93", "69": "84"}  # département → region
LAST_YEAR = 2023  # the store closes on 2024-06-30: 2024 is incomplete
CLOSING = dt.date(2024, 6, 30)


@dataclass
class Truth:
    """The seeded cases, one row per (person, site group), as numpy arrays."""

    person: np.ndarray
    site: np.ndarray
    sex: np.ndarray
    dept: np.ndarray
    yob: np.ndarray
    mob: np.ndarray
    dx: np.ndarray  # datetime64[D]
    death: np.ndarray  # datetime64[D], NaT when alive


def _days(d: dt.date) -> np.datetime64:
    return np.datetime64(d, "D")


def run_stats_step(backend: Backend, home: Path) -> None:
    """The pipeline's ``stats`` step on the store: the aggregate tables the explorer reads."""
    report = run_pipeline(backend, load_settings(home=home), only="stats", show_progress=False)
    assert report.ok


def build_measures_store(path: Path, *, persons: int = 700, seed: int = 11) -> Truth:
    rng = np.random.default_rng(seed)
    ids = np.arange(1, persons + 1)
    female = rng.random(persons) < 0.5
    yob = rng.integers(1925, 1985, persons)
    mob = rng.integers(1, 13, persons)
    dept = rng.choice(list(DEPTS), persons, p=[0.5, 0.3, 0.2])
    codes = np.array(list(SITES))
    first = np.where(female, rng.choice(codes[:3], persons), rng.choice(codes[1:], persons))
    dx = _days(dt.date(2015, 1, 1)) + rng.integers(0, 9 * 365, persons)
    # a second cancer of another site for one person in ten
    second = np.flatnonzero(rng.random(persons) < 0.1)
    second_code = np.where(first[second] == "C34.1", "C18.7", "C34.1")
    dx2 = dx[second] + rng.integers(30, 700, second.size)
    keep2 = dx2 <= _days(CLOSING)
    second, second_code, dx2 = second[keep2], second_code[keep2], dx2[keep2]
    # deaths: about half, after the first diagnosis, up to the closing date
    dies = rng.random(persons) < 0.5
    death = dx + rng.integers(0, 6 * 365, persons)
    dies &= death <= _days(CLOSING)
    death[-1], dies[-1] = _days(CLOSING), True  # the closing date itself
    death[0], dies[0] = dx[0] - 10, True  # inconsistent: death before diagnosis
    with connect(f"duckdb:///{path}") as backend:
        create_store(backend)

        def load(table: str, columns: dict[str, object]) -> None:
            bulk_load(backend, table, pa.table(columns), step="test", source="builder")

        load("location", {
            "location_id": np.arange(1, len(DEPTS) + 1),
            "county": list(DEPTS), "state": list(DEPTS.values()),
        })  # fmt: skip
        location_of = {d: i + 1 for i, d in enumerate(DEPTS)}
        load("person", {
            "person_id": ids, "gender_concept_id": np.where(female, 8532, 8507),
            "year_of_birth": yob, "month_of_birth": mob,
            "race_concept_id": np.zeros(persons, int), "ethnicity_concept_id": np.zeros(persons, int),
            "location_id": np.array([location_of[d] for d in dept]),
        })  # fmt: skip
        all_ids = np.concatenate([ids, ids[second]])
        all_codes = np.concatenate([first, second_code])
        all_dx = np.concatenate([dx, dx2])
        load("condition_occurrence", {
            "condition_occurrence_id": np.arange(1, all_ids.size + 1), "person_id": all_ids,
            "condition_concept_id": np.zeros(all_ids.size, int),
            "condition_start_date": pa.array(all_dx.astype("datetime64[D]")),
            "condition_type_concept_id": np.full(all_ids.size, 32817),
            "condition_source_value": all_codes,
        })  # fmt: skip
        load("death", {
            "person_id": ids[dies], "death_date": pa.array(death[dies].astype("datetime64[D]")),
            "death_type_concept_id": np.full(int(dies.sum()), 32815),
        })  # fmt: skip
        run_stats_step(backend, path.parent / "home")
    index = np.concatenate([np.arange(persons), second])
    death_all = np.where(dies, death, np.datetime64("NaT"))
    return Truth(
        person=ids[index],
        site=np.array([SITES[c] for c in all_codes]),
        sex=np.where(female, "F", "M")[index],
        dept=dept[index],
        yob=yob[index],
        mob=mob[index],
        dx=all_dx.astype("datetime64[D]"),
        death=death_all[index].astype("datetime64[D]"),
    )


def _year(days: np.ndarray) -> np.ndarray:
    years: np.ndarray = days.astype("datetime64[Y]").astype(int) + 1970
    return years


def _month(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[M]").astype(int) % 12 + 1


def expected_deaths(t: Truth) -> dict[str, np.ndarray]:
    """Deaths among cases (consistent, complete years), with their age group at death."""
    ok = ~np.isnat(t.death)
    ok[ok] &= t.death[ok] >= t.dx[ok]
    ok[ok] &= _year(t.death[ok]) <= LAST_YEAR
    year = _year(t.death[ok])
    age = year - t.yob[ok] - (_month(t.death[ok]) < t.mob[ok])
    return {
        "year": year,
        "site": t.site[ok],
        "sex": t.sex[ok],
        "age_group": np.array(AGE_GROUPS)[np.clip(age // 5, 0, 17)],
    }


def expected_prevalent(t: Truth, year: int, duration: int | None) -> np.ndarray:
    """Mask of the cases prevalent on 31 December ``year`` (counted here without the core)."""
    index = _days(dt.date(year, 12, 31))
    consistent = np.isnat(t.death) | (t.death >= t.dx)
    alive = np.isnat(t.death) | (t.death > index)
    mask: np.ndarray = consistent & (t.dx <= index) & alive
    if duration is not None:
        mask &= t.dx > _days(dt.date(year - duration, 12, 31))
    return mask


@pytest.fixture(scope="module")
def measures_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Truth]:
    path = tmp_path_factory.mktemp("measures") / "store.duckdb"
    return path, build_measures_store(path)


def write_population(path: Path, per_cell: float = 1000.0) -> Path:
    lines = ["year,sex,age_group,departement,population"]
    for year in range(2015, 2025):
        for sex in ("M", "F"):
            for i, age in enumerate(AGE_GROUPS):
                for dept in DEPTS:
                    lines.append(f"{year},{sex},{age},{dept},{per_cell * (1 + i % 3)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _app(tmp_path: Path, store: Path, population_csv: Path | None = None) -> Iterator[TestClient]:
    settings = WebSettings(
        home=tmp_path / "web-home", store_url=f"duckdb:///{store}", population_csv=population_csv
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def client(
    tmp_path: Path, home: object, measures_store: tuple[Path, Truth]
) -> Iterator[TestClient]:
    yield from _app(tmp_path, measures_store[0])


@pytest.fixture
def client_with_population(
    tmp_path: Path, home: object, measures_store: tuple[Path, Truth]
) -> Iterator[TestClient]:
    population = write_population(tmp_path / "population.csv")
    yield from _app(tmp_path, measures_store[0], population_csv=population)


def test_deaths_among_cases_by_year_of_death(
    client: TestClient, measures_store: tuple[Path, Truth]
) -> None:
    truth = expected_deaths(measures_store[1])
    body = client.get("/api/v1/open/mortality", params={"group_by": "year"}).json()
    assert body["title"] == "mortality"
    years, counts = np.unique(truth["year"], return_counts=True)
    assert body["rows"] == [str(y) for y in years]  # no 2024: incomplete, left out
    assert body["total"] == int(counts.sum())
    for year, n, cell in zip(years, counts, body["cells"], strict=True):
        assert cell[0] in (int(n), None), year
    assert "no population" in body["note"]


def test_deaths_by_site_and_age_count_each_registered_site(
    client: TestClient, measures_store: tuple[Path, Truth]
) -> None:
    truth = expected_deaths(measures_store[1])
    body = client.get(
        "/api/v1/open/mortality", params={"group_by": "site_group", "series": "sex"}
    ).json()
    for i, site in enumerate(body["rows"]):
        for j, sex in enumerate(body["columns"]):
            n = int(np.sum((truth["site"] == site) & (truth["sex"] == sex)))
            assert body["cells"][i][j] in (n, None), (site, sex)
    by_age = client.get("/api/v1/open/mortality", params={"group_by": "age_group"}).json()
    ages, counts = np.unique(truth["age_group"], return_counts=True)
    published = dict(zip(by_age["rows"], by_age["row_totals"], strict=True))
    for age, n in zip(ages, counts, strict=True):
        assert published[str(age)] in (int(n), None)


@pytest.mark.parametrize("duration", ["1", "5", "10", "complete"])
def test_prevalence_at_the_latest_index_date(
    client: TestClient, measures_store: tuple[Path, Truth], duration: str
) -> None:
    truth = measures_store[1]
    years = None if duration == "complete" else int(duration)
    mask = expected_prevalent(truth, LAST_YEAR, years)
    body = client.get(
        "/api/v1/open/prevalence", params={"group_by": "site_group", "duration": duration}
    ).json()
    assert body["index_dates"] == [f"{LAST_YEAR}-12-31"] and body["duration"] == duration
    assert body["total"] == int(mask.sum())
    for site, total in zip(body["rows"], body["row_totals"], strict=True):
        assert total in (int(np.sum(mask & (truth.site == site))), None), site


def test_prevalence_by_index_year_and_age_at_the_index_date(
    client: TestClient, measures_store: tuple[Path, Truth]
) -> None:
    truth = measures_store[1]
    body = client.get(
        "/api/v1/open/prevalence",
        params={"group_by": "year", "year_from": "2017", "year_to": "2020", "duration": "5"},
    ).json()
    assert body["rows"] == ["2017", "2018", "2019", "2020"]
    assert len(body["index_dates"]) == 4
    for year, total in zip(body["rows"], body["row_totals"], strict=True):
        assert total == int(expected_prevalent(truth, int(year), 5).sum())
    ages = client.get(
        "/api/v1/open/prevalence", params={"group_by": "age_group", "year_to": "2021"}
    ).json()
    mask = expected_prevalent(truth, 2021, 5)
    age = 2021 - truth.yob[mask]  # on 31 December every birthday has passed
    expected = np.array(AGE_GROUPS)[np.clip(age // 5, 0, 17)]
    for label, total in zip(ages["rows"], ages["row_totals"], strict=True):
        assert total in (int(np.sum(expected == label)), None)


@pytest.mark.parametrize("measure", ["mortality", "prevalence"])
@pytest.mark.parametrize(
    "view",
    [
        {"group_by": "site_group", "series": "departement"},
        {"group_by": "age_group", "series": "sex"},
        {"group_by": "region", "series": "year"},
        {"group_by": "departement", "site": "lung"},
    ],
)
def test_no_count_under_eleven_leaves(
    client: TestClient, measure: str, view: dict[str, str]
) -> None:
    body = client.get(f"/api/v1/open/{measure}", params=view).json()
    assert body["rows"], body
    assert all(v == 0 or v >= 11 for v in published_counts(body))
    hidden = sum(v is None for row in body["cells"] for v in row)
    assert hidden == body["suppressed"]


def test_region_filter_matches_its_departements(client: TestClient) -> None:
    whole = client.get("/api/v1/open/mortality", params={"group_by": "departement"}).json()
    paca = client.get(
        "/api/v1/open/mortality", params={"group_by": "departement", "region": "93"}
    ).json()
    assert paca["rows"] == ["13"]
    assert paca["total"] == whole["row_totals"][whole["rows"].index("13")]


def test_rates_and_asr_with_a_population(
    client_with_population: TestClient, measures_store: tuple[Path, Truth]
) -> None:
    truth = expected_deaths(measures_store[1])
    body = client_with_population.get(
        "/api/v1/open/mortality", params={"group_by": "sex", "standard": "world"}
    ).json()
    assert body["standard"] == "world" and body["note"] is None
    # the population table: 1000, 2000 or 3000 persons per (year, sex, age, département)
    py_age = np.array([1000.0 * (1 + i % 3) for i in range(18)]) * len(DEPTS)
    years = LAST_YEAR - 2015 + 1  # deaths from 2015 to 2023
    weights = load_standard_population("world").weights
    for rate in body["rates"]:
        deaths = np.array(
            [
                np.sum((truth["sex"] == rate["label"]) & (truth["age_group"] == a))
                for a in AGE_GROUPS
            ]
        )
        person_years = py_age * years
        assert rate["count"] == deaths.sum()
        assert rate["population"] == pytest.approx(person_years.sum())
        assert rate["crude"] == pytest.approx(deaths.sum() / person_years.sum() * 1e5, abs=0.01)
        asr = float(np.sum(deaths / person_years * weights) / weights.sum() * 1e5)
        assert rate["asr"] == pytest.approx(asr, abs=0.01)
        assert rate["ci_lower"] < rate["asr"] < rate["ci_upper"]
        assert body["standardised_rates"][rate["label"]] == rate["asr"]
    assert {r["label"] for r in body["rates"]} == {"F", "M"}


def test_prevalence_rates_use_the_index_year_population(
    client_with_population: TestClient, measures_store: tuple[Path, Truth]
) -> None:
    body = client_with_population.get(
        "/api/v1/open/prevalence", params={"group_by": "site_group", "year_to": "2020"}
    ).json()
    persons = sum(1000.0 * (1 + i % 3) for i in range(18)) * len(DEPTS) * 2  # one year
    assert body["rates"]
    for rate in body["rates"]:
        assert rate["population"] == pytest.approx(persons)
        assert rate["crude"] == pytest.approx(rate["count"] / persons * 1e5, abs=0.01)
        total = body["row_totals"][body["rows"].index(rate["label"])]
        assert total == rate["count"]  # a rate only for a published count


def test_no_rate_reveals_a_suppressed_count(client_with_population: TestClient) -> None:
    body = client_with_population.get(
        "/api/v1/open/mortality", params={"group_by": "departement", "series": "site_group"}
    ).json()
    hidden = {label for label, t in zip(body["rows"], body["row_totals"], strict=True) if t is None}
    assert not hidden & {r["label"] for r in body["rates"]}


def test_a_broken_population_file_is_reported_not_fatal(
    tmp_path: Path, home: object, measures_store: tuple[Path, Truth]
) -> None:
    bad = tmp_path / "population.csv"
    bad.write_text("year,sex,agegroup,population\n2020,M,0-4,10\n", encoding="utf-8")
    for client in _app(tmp_path, measures_store[0], population_csv=bad):
        body = client.get("/api/v1/open/incidence").json()
        assert "population.csv" in body["note"] and body["rates"] == []
        page = client.get("/explorer?measure=mortality")
        assert page.status_code == 200 and "population.csv" in page.text


def test_the_synthetic_population_is_the_default(
    tmp_path: Path, home: object, measures_store: tuple[Path, Truth]
) -> None:
    web_home = tmp_path / "web-home"
    assert WebSettings(home=web_home).resolved_population_csv is None
    write_population(web_home / "synth" / "population.csv")
    settings = WebSettings(home=web_home, store_url=f"duckdb:///{measures_store[0]}")
    assert settings.resolved_population_csv == web_home / "synth" / "population.csv"
    explicit = tmp_path / "other.csv"
    assert WebSettings(home=web_home, population_csv=explicit).resolved_population_csv == explicit
    with TestClient(create_app(settings)) as client:
        body = client.get("/api/v1/open/mortality", params={"group_by": "sex"}).json()
    assert body["note"] is None
    assert {r["label"] for r in body["rates"]} == {"F", "M"}


def test_explorer_pages_csv_and_shared_url(
    client: TestClient, measures_store: tuple[Path, Truth]
) -> None:
    page = client.get("/explorer?measure=prevalence&group_by=site_group&duration=1&year_to=2021")
    assert page.status_code == 200
    assert 'id="prevalence-note"' in page.text and "2021-12-31" in page.text
    link = re.search(r'id="share-link" href="([^"]+)"', page.text)
    assert link is not None
    shared = link.group(1).replace("&amp;", "&")
    assert "measure=prevalence" in shared and "duration=1" in shared and "year_to=2021" in shared
    again = client.get(shared + "&format=csv")
    assert again.headers["content-type"].startswith("text/csv")
    assert "prevalence_by_site_group.csv" in again.headers["content-disposition"]
    api = client.get(
        "/api/v1/open/prevalence",
        params={"group_by": "site_group", "duration": "1", "year_to": "2021", "format": "csv"},
    )
    assert again.text == api.text
    mortality = client.get("/explorer?measure=mortality&group_by=year&partial=1")
    assert "mortality-note" in mortality.text and "not cancer mortality" in mortality.text
    assert "<html" not in mortality.text  # the live fragment only
    assert client.get("/explorer?measure=mortality&format=csv").text.startswith("site_group,")


def test_french_labels(client: TestClient) -> None:
    page = client.get("/explorer?measure=mortality&lang=fr")
    assert "Décès parmi les cas enregistrés" in page.text
    assert "Ce n'est pas la mortalité par cancer" in page.text.replace("&#39;", "'")
    page = client.get("/explorer?measure=prevalence&lang=fr")
    assert "Prévalence : diagnostic depuis moins de" in page.text


def test_bad_filters_are_refused_cleanly(client: TestClient) -> None:
    response = client.get("/api/v1/open/prevalence", params={"duration": "7"})
    assert response.status_code == 422 and "duration must be one of" in response.text
    page = client.get("/explorer?measure=prevalence&duration=forever")
    assert page.status_code == 400 and "duration must be one of" in page.text
    assert client.get("/explorer?measure=deaths").status_code == 400


def test_a_new_load_refreshes_the_figures(tmp_path: Path, home: object) -> None:
    store = tmp_path / "store.duckdb"
    truth = build_measures_store(store, persons=200, seed=3)
    settings = WebSettings(home=tmp_path / "web-home", store_url=f"duckdb:///{store}")
    app = create_app(settings)
    with TestClient(app) as client:
        before = client.get("/api/v1/open/mortality", params={"group_by": "sex"}).json()
        assert before["total"] == len(expected_deaths(truth)["year"])
        once = np.bincount(truth.person)[truth.person] == 1
        candidates = np.isnat(truth.death) & once & (truth.dx < _days(dt.date(2023, 1, 1)))
        alive = int(truth.person[np.flatnonzero(candidates)[0]])
        ctx = app.state.web
        with ctx.store.backend() as backend:  # the service's own connection: same process
            bulk_load(
                backend, "death",
                pa.table({"person_id": [alive], "death_date": [dt.date(2023, 3, 1)]}),
                step="test", source="late death",
            )  # fmt: skip
            run_stats_step(backend, tmp_path / "home")  # the pipeline refreshes the figures
        from oncobase.api.statistics import VERSION_SECONDS

        time.sleep(VERSION_SECONDS + 0.2)  # the service asks the store for news this often
        after = client.get("/api/v1/open/mortality", params={"group_by": "sex"}).json()
    assert after["total"] == before["total"] + 1


def test_warm_up_reads_every_source_ahead(tmp_path: Path) -> None:
    from oncobase.api import statistics

    store = tmp_path / "store.duckdb"
    build_measures_store(store, persons=80, seed=5)
    with connect(f"duckdb:///{store}") as backend:
        statistics.warm_up(backend)
        version = statistics.store_version(backend)
        read = {k[2] for k in statistics._SOURCES if k[:2] == (backend.url, version)}
    assert read == {"incidence", "mortality", "prevalence"}


@pytest.mark.parametrize("measure", ["mortality", "prevalence"])
def test_a_store_without_the_aggregate_says_the_step_has_not_run(
    tmp_path: Path, home: object, measure: str
) -> None:
    store = tmp_path / "store.duckdb"
    build_measures_store(store, persons=80, seed=5)
    with connect(f"duckdb:///{store}") as backend:
        backend.execute(f"DROP TABLE stats__{measure}")
    for client in _app(tmp_path, store):
        body = client.get(f"/api/v1/open/{measure}").json()
        assert body["note"].startswith("the statistics step has not run yet")
        assert body["rows"] == [] and body["total"] == 0
        assert client.get("/api/v1/open/incidence").json()["rows"]  # the others still serve


@pytest.mark.postgres
def test_deaths_and_prevalence_on_a_postgresql_store(
    tmp_path: Path, home: object, measures_store: tuple[Path, Truth], postgres_backend: Backend
) -> None:
    """The explorer reads only the aggregate tables: on PostgreSQL it serves the same figures
    as on DuckDB (the tables are copied from the DuckDB store, whose step computed them)."""
    create_store(postgres_backend)
    columns = {
        "stats__incidence": "site_group, sex, age_group, year, departement, cases",
        "stats__mortality": "site_group, sex, age_group, year, departement, deaths",
        "stats__prevalence": "year, duration, site_group, sex, age_group, departement, cases",
    }
    with connect(f"duckdb:///{measures_store[0]}") as duck:
        for table, names in columns.items():
            data = duck.query_arrow(f"SELECT {names} FROM {table}")
            bulk_load(postgres_backend, table, data, step="stats", source="copied from DuckDB")
    views = [
        ("mortality", {"group_by": "departement", "series": "sex"}),
        ("mortality", {"group_by": "year"}),
        ("prevalence", {"group_by": "site_group", "duration": "5"}),
        ("prevalence", {"group_by": "year", "series": "age_group", "duration": "complete"}),
    ]
    for client in _app(tmp_path / "duckdb", measures_store[0]):
        expected = [client.get(f"/api/v1/open/{m}", params=p).json() for m, p in views]
    settings = WebSettings(home=tmp_path / "web-pg", store_url=postgres_backend.url)
    with TestClient(create_app(settings)) as client:
        got = [client.get(f"/api/v1/open/{m}", params=p).json() for m, p in views]
    for (measure, params), want, have in zip(views, expected, got, strict=True):
        assert have["note"] is None or "not wired" not in have["note"], measure
        assert have == want, (measure, params)
        assert want["total"] > 0
