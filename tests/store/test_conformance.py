"""The store created on each engine matches the OHDSI OMOP CDM v5.4 specification exactly."""

from __future__ import annotations

import csv

import pytest
from tests.conftest import shared_path

from oncobase.store import Backend, all_tables, create_store, omop_tables, platform_tables

_TYPE_CLASS = {
    "integer": "integer",
    "bigint": "integer",
    "float": "float",
    "date": "date",
    "datetime": "datetime",
}


def _expected_class(cdm_datatype: str) -> str:
    datatype = cdm_datatype.lower()
    return "text" if datatype.startswith("varchar") else _TYPE_CLASS[datatype]


def _field_rows() -> list[dict[str, str]]:
    path = shared_path("standards", "omop", "OMOP_CDMv5.4_Field_Level.csv")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # The specification quotes the one reserved word it uses as a name ("offset").
    for row in rows:
        row["cdmFieldName"] = row["cdmFieldName"].strip('"')
    return rows


def test_spec_lists_39_omop_tables_and_432_fields() -> None:
    rows = _field_rows()
    assert len(omop_tables()) == 39
    assert sum(len(t.columns) for t in omop_tables()) == len(rows) == 432
    assert {t.name for t in omop_tables()} == {r["cdmTableName"] for r in rows}


def test_every_omop_table_and_column_conforms(backend: Backend) -> None:
    create_store(backend)
    rows = _field_rows()
    present = set(backend.list_tables())
    expected_tables = {r["cdmTableName"] for r in rows}
    assert expected_tables <= present, f"missing: {sorted(expected_tables - present)}"
    problems: list[str] = []
    by_table: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_table.setdefault(row["cdmTableName"], []).append(row)
    for table, fields in by_table.items():
        actual = {c.name: c for c in backend.describe(table)}
        expected_names = [f["cdmFieldName"] for f in fields]
        if sorted(actual) != sorted(expected_names):
            problems.append(f"{table}: columns {sorted(set(actual) ^ set(expected_names))}")
            continue
        for field in fields:
            column = actual[field["cdmFieldName"]]
            if column.type_class != _expected_class(field["cdmDatatype"]):
                problems.append(
                    f"{table}.{column.name}: {column.type_class} != {field['cdmDatatype']}"
                )
            if column.nullable == (field["isRequired"] == "Yes"):
                problems.append(f"{table}.{column.name}: NOT NULL should be {field['isRequired']}")
        expected_pk = [f["cdmFieldName"] for f in fields if f["isPrimaryKey"] == "Yes"]
        if backend.primary_key(table) != expected_pk:
            problems.append(f"{table}: primary key {backend.primary_key(table)} != {expected_pk}")
    assert problems == []


def test_platform_tables_exist_with_their_keys(backend: Backend) -> None:
    result = create_store(backend)
    assert set(result.created) == set(all_tables())
    for spec in platform_tables():
        assert backend.primary_key(spec.name) == list(spec.primary_key)
        assert [c.name for c in backend.describe(spec.name)] == list(spec.column_names)
    assert backend.scalar("SELECT value FROM platform__settings WHERE key = 'cdm_version'") == "5.4"


def test_create_store_is_idempotent(backend: Backend) -> None:
    create_store(backend)
    again = create_store(backend)
    assert again.created == ()
    assert len(again.existing) == len(all_tables())
    assert backend.count_rows("platform__settings") == 3


@pytest.mark.parametrize("table", ["episode", "episode_event", "measurement"])
def test_oncology_model_columns_present(backend: Backend, table: str) -> None:
    create_store(backend)
    names = {c.name for c in backend.describe(table)}
    wanted = {
        "episode": {
            "episode_concept_id",
            "episode_parent_id",
            "episode_object_concept_id",
            "episode_number",
        },
        "episode_event": {"episode_id", "event_id", "episode_event_field_concept_id"},
        "measurement": {"measurement_event_id", "meas_event_field_concept_id"},
    }[table]
    assert wanted <= names
