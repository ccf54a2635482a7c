"""Staging → OMOP: stable ids, idempotent re-loads, atomic replacement, persons and deaths."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest
from tests.ingest.test_ingest_deaths import death_line
from tests.ingest.test_ingest_registry import row, write_csv

from oncobase.config import Settings, load_settings
from oncobase.errors import BulkLoadError
from oncobase.ingest import stage_death_files, stage_registry_csv
from oncobase.ingest.load import load_staging
from oncobase.store import Backend, connect, create_store

TABLES = ("person", "condition_occurrence", "measurement", "death", "observation_period")


@pytest.fixture
def home(tmp_path: Path) -> Settings:
    return load_settings(home=tmp_path / "home")


@pytest.fixture
def store(home: Settings) -> Backend:
    backend = connect(settings=home)
    create_store(backend)
    return backend


def snapshot(backend: Backend) -> dict[str, list[dict]]:
    return {t: backend.query_arrow(f"SELECT * FROM {t} ORDER BY ALL").to_pylist() for t in TABLES}


def stage_registry(home: Settings, tmp_path: Path, rows: list[list[str]]) -> None:
    path = write_csv(tmp_path / "feeds" / "REG_38" / "tumours.csv", rows)
    stage_registry_csv([path], settings=home)


def test_load_then_reload_changes_nothing(home: Settings, store: Backend, tmp_path: Path) -> None:
    stage_registry(
        home,
        tmp_path,
        [
            row(),
            row(
                id_patient="P2",
                num_tumeur="1",
                topographie="C18.7",
                morphologie="8140",
                cim10="C18.7",
            ),
        ],
    )
    first = load_staging(store, home)
    assert first.loaded["REG_38"]["condition_occurrence"] == 2
    before = snapshot(store)
    assert len(before["person"]) == 2
    again = load_staging(store, home)
    assert again.skipped == ["REG_38"]
    # re-staging the same file gives the same staging → same store
    stage_registry(
        home,
        tmp_path,
        [
            row(),
            row(
                id_patient="P2",
                num_tumeur="1",
                topographie="C18.7",
                morphologie="8140",
                cim10="C18.7",
            ),
        ],
    )
    load_staging(store, home)
    assert snapshot(store) == before
    condition = store.query_arrow(
        "SELECT condition_source_value, condition_concept_id, condition_source_concept_id "
        "FROM condition_occurrence ORDER BY 1"
    ).to_pylist()
    assert condition[0]["condition_source_value"] == "C18.7"
    modifier = store.query_arrow(
        "SELECT m.measurement_event_id, m.meas_event_field_concept_id, c.condition_occurrence_id "
        "FROM measurement m JOIN condition_occurrence c ON c.person_id = m.person_id"
    ).to_pylist()
    assert all(r["measurement_event_id"] == r["condition_occurrence_id"] for r in modifier)
    assert all(r["meas_event_field_concept_id"] == 1147127 for r in modifier)


def test_new_version_of_a_source_replaces_its_rows_and_keeps_ids(
    home: Settings, store: Backend, tmp_path: Path
) -> None:
    stage_registry(home, tmp_path, [row(), row(id_patient="P2")])
    load_staging(store, home)
    ids = store.query_arrow(
        "SELECT person_id, condition_occurrence_id FROM condition_occurrence ORDER BY 1"
    ).to_pylist()
    stage_registry(home, tmp_path, [row(), row(id_patient="P3")])  # P2 withdrawn, P3 new
    load_staging(store, home)
    after = store.query_arrow(
        "SELECT person_id, condition_occurrence_id FROM condition_occurrence ORDER BY 1"
    ).to_pylist()
    assert len(after) == 2
    assert after[0] == ids[0]  # P1 keeps its person id and record id
    assert after[1]["person_id"] not in {r["person_id"] for r in ids}


def test_failed_load_leaves_the_store_as_it_was(
    home: Settings, store: Backend, tmp_path: Path
) -> None:
    stage_registry(home, tmp_path, [row()])
    load_staging(store, home)
    before = snapshot(store)
    staged = home.home_path / "staging" / "clinical" / "REG_38" / "condition_occurrence.parquet"
    import pyarrow.parquet as pq

    table = pq.read_table(staged)
    broken = table.set_column(
        table.column_names.index("condition_source_value"),
        "condition_source_value",
        pa.array(["X" * 60] * table.num_rows),  # longer than varchar(50)
    )
    pq.write_table(broken, staged)
    with pytest.raises(BulkLoadError):
        load_staging(store, home)
    assert snapshot(store) == before


def test_deaths_complete_known_persons_only(home: Settings, store: Backend, tmp_path: Path) -> None:
    stage_registry(home, tmp_path, [row()])
    deaths = tmp_path / "feeds" / "deaths"
    deaths.mkdir(parents=True)
    (deaths / "deces-2022.txt").write_text(
        death_line() + "\n" + death_line(name="AUTRE*PERSONNE/", certificate="9") + "\n"
    )
    stage_death_files(sorted(deaths.glob("*.txt")), settings=home)
    identity = pa.table(
        {
            "source": ["REG_38", "INSEE"],
            "local_id": ["P1", "20200102-35238-123"],
            "person_id": pa.array([7, 7], pa.int64()),
        }
    )
    load_staging(store, home, person_index=identity)
    assert store.query_arrow("SELECT person_id, death_date FROM death").to_pylist() == [
        {"person_id": 7, "death_date": __import__("datetime").date(2020, 1, 2)}
    ]
    assert store.count_rows("person") == 1


def test_no_identity_reaches_the_store(home: Settings, store: Backend, tmp_path: Path) -> None:
    stage_registry(home, tmp_path, [row(nir="250047512345678")])
    load_staging(store, home)
    dump = " ".join(
        str(store.query_arrow(f"SELECT * FROM {t}").to_pylist()) for t in store.list_tables()
    )
    for needle in ("Lefèvre", "Hélène", "250047512345678", "1950-04-02"):
        assert needle not in dump
