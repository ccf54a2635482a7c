"""Helpers of the web tests: a tiny real store, the app on it, signing in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient

from oncobase.config import get_settings
from oncobase.store import connect

CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]+)"')


def build_small_store(path: Path, *, persons: int = 60, seed: int = 7) -> Path:
    """A real DuckDB store written with the store's bulk loader: OMOP rows for ``persons``
    people and the statistics tables the pipeline would compute (seeded, fast: incidence and
    survival made up, deaths and prevalence computed from the OMOP rows)."""
    import datetime as dt

    import numpy as np
    import pyarrow as pa

    from oncobase.stats.cases import store_tables
    from oncobase.stats.measures import closing_date, last_complete_year
    from oncobase.stats.store_views import compute_store_deaths, compute_store_prevalence
    from oncobase.store import bulk_load, create_store
    from oncobase.store.ibis import ibis_connection

    rng = np.random.default_rng(seed)
    ids = list(range(1, persons + 1))
    sites = ["breast", "lung", "colorectum", "prostate", "melanoma"]
    with connect(f"duckdb:///{path}") as backend:
        create_store(backend)

        def load(table: str, columns: dict[str, list[object]]) -> None:
            bulk_load(backend, table, pa.table(columns), step="test", source="builder")

        load("person", {
            "person_id": ids,
            "gender_concept_id": [8507 if i % 2 else 8532 for i in ids],
            "year_of_birth": [1940 + i % 40 for i in ids],
            "race_concept_id": [0] * persons,
            "ethnicity_concept_id": [0] * persons,
        })  # fmt: skip
        day = [dt.date(2015 + i % 9, 1 + i % 12, 1 + i % 27) for i in ids]
        load("condition_occurrence", {
            "condition_occurrence_id": ids, "person_id": ids,
            "condition_concept_id": [0] * persons, "condition_start_date": day,
            "condition_type_concept_id": [32817] * persons,
            "condition_source_value": [f"C{50 + i % 30}.9" for i in ids],
        })  # fmt: skip
        load("measurement", {
            "measurement_id": ids, "person_id": ids, "measurement_concept_id": [0] * persons,
            "measurement_date": day, "measurement_type_concept_id": [32817] * persons,
            "measurement_source_value": ["T2"] * persons, "value_source_value": ["c2"] * persons,
        })  # fmt: skip
        load("drug_exposure", {
            "drug_exposure_id": ids, "person_id": ids, "drug_concept_id": [0] * persons,
            "drug_exposure_start_date": [d + dt.timedelta(days=30) for d in day],
            "drug_exposure_end_date": [d + dt.timedelta(days=60) for d in day],
            "drug_type_concept_id": [32817] * persons,
            "drug_source_value": ["L01XC03"] * persons,
        })  # fmt: skip
        load("note", {
            "note_id": ids, "person_id": ids, "note_date": day,
            "note_type_concept_id": [0] * persons, "note_class_concept_id": [0] * persons,
            "note_title": ["Pathology report"] * persons,
            "note_text": ["Invasive ductal carcinoma, grade 2."] * persons,
            "encoding_concept_id": [0] * persons, "language_concept_id": [0] * persons,
        })  # fmt: skip
        rows: dict[str, list[object]] = {k: [] for k in
            ("site_group", "sex", "age_group", "year", "departement", "cases")}  # fmt: skip
        for site in sites:
            for sex in ("M", "F"):
                for age in ("50-54", "60-64", "70-74"):
                    for year in range(2016, 2024):
                        for dept in ("75", "13", "69"):
                            rows["site_group"].append(site)
                            rows["sex"].append(sex)
                            rows["age_group"].append(age)
                            rows["year"].append(year)
                            rows["departement"].append(dept)
                            rows["cases"].append(int(rng.integers(0, 9)))
        load("stats__incidence", rows)
        surv: dict[str, list[object]] = {k: [] for k in ("site_group", "sex", "cases", "deaths",
            "time", "estimate", "std_err", "ci_lower", "ci_upper", "n_at_risk")}  # fmt: skip
        for site in sites:
            for sex, n in (("M", 40), ("F", 8)):
                for time, est in ((365.0, 0.9), (1826.0, 0.6)):
                    for key, value in (
                        ("site_group", site),
                        ("sex", sex),
                        ("cases", n),
                        ("deaths", n // 3),
                        ("time", time),
                        ("estimate", est),
                        ("std_err", 0.05),
                        ("ci_lower", est - 0.1),
                        ("ci_upper", min(1.0, est + 0.1)),
                        ("n_at_risk", n // 2),
                    ):
                        surv[key].append(value)  # fmt: skip
        load("stats__survival", surv)
        # deaths among cases and prevalence as the stats step computes them from the OMOP rows
        tables = store_tables(ibis_connection(backend))
        closing = closing_date(tables)
        last_year = None if closing is None else last_complete_year(closing)
        load("stats__mortality", compute_store_deaths(tables, last_year=last_year).to_pydict())
        load("stats__prevalence", compute_store_prevalence(tables, last_year=last_year).to_pydict())
        load("ingest__quarantine", {
            "quarantine_id": ["q1", "q2"], "load_id": ["l1", "l1"],
            "source": ["registry_csv", "registry_csv"], "file": ["cases.csv", "cases.csv"],
            "location": ["line 3", "line 9"], "reason": ["invalid ICD-10 code", "no birth date"],
            "raw_sha256": ["a" * 64, "b" * 64], "raw_encrypted": ["SECRET-RAW", "SECRET-RAW"],
            "quarantined_at": [dt.datetime(2024, 1, 1)] * 2,
        })  # fmt: skip
    return path


def build_demo_store(home: Path, *, patients: int = 120) -> Path:
    """Run the demo pipeline on a tiny synthetic nation in ``home``; the store's path."""
    import pytest

    from oncobase.cli import _commands  # noqa: F401  (registers the pipeline steps)
    from oncobase.pipeline import run_pipeline

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ONCOBASE_HOME", str(home))
        mp.setenv("ONCOBASE_SYNTH_PATIENTS", str(patients))
        mp.delenv("ONCOBASE_STORE_URL", raising=False)
        settings = get_settings(fresh=True)
        with connect(settings=settings) as backend:
            run_pipeline(backend, settings, show_progress=False)
    get_settings(fresh=True)
    return home / "store.duckdb"


@dataclass
class Web:
    app: FastAPI
    settings: object
    accounts: dict[str, tuple[str, str]]  # role → (username, password)

    def client(self, *, https: bool = False) -> TestClient:
        base = "https://testserver" if https else "http://testserver"
        return TestClient(self.app, base_url=base)

    def login(self, client: TestClient, role: str) -> TestClient:
        username, password = self.accounts[role]
        token = csrf_of(client, "/login")
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
        return client


def published_counts(body: dict[str, object]) -> list[int]:
    """Every count a count table publishes (cells and margins), suppressed ones left out."""
    values: list[int] = []
    for row in body["cells"]:  # type: ignore[attr-defined]
        values += [v for v in row if v is not None]
    for key in ("row_totals", "column_totals"):
        values += [v for v in body[key] if v is not None]  # type: ignore[attr-defined]
    return values


def csrf_of(client: TestClient, path: str) -> str:
    page = client.get(path)
    found = CSRF.search(page.text)
    assert found, f"no CSRF token on {path}"
    return found.group(1)
