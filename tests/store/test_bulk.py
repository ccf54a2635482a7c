"""Bulk loading Arrow tables into OMOP tables, on both engines."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from oncobase.errors import BulkLoadError
from oncobase.store import Backend, bulk_load, conform_to_spec, create_store, list_loads, table_spec


def condition_rows(n: int, *, start: int = 1) -> pa.Table:
    rng = np.random.default_rng(7)
    return pa.table(
        {
            "condition_occurrence_id": np.arange(start, start + n, dtype=np.int64),
            "person_id": rng.integers(1, 1000, n),
            "condition_concept_id": rng.integers(2_000_000_000, 2_000_001_000, n),
            "condition_start_date": pa.array(
                np.datetime64("2015-01-01") + rng.integers(0, 3650, n).astype("timedelta64[D]")
            ),
            "condition_type_concept_id": np.full(n, 32817),
            "condition_source_value": pa.array([f"C{i % 97:02d}.{i % 10}" for i in range(n)]),
        }
    )


def test_load_roundtrip_and_metadata(backend: Backend) -> None:
    create_store(backend)
    data = condition_rows(1000)
    result = bulk_load(
        backend,
        "condition_occurrence",
        data,
        step="test",
        source="unit",
        input_hash="abc",
        rows_quarantined=3,
    )
    assert result.rows_accepted == 1000
    assert backend.count_rows("condition_occurrence") == 1000
    back = backend.query_arrow(
        "SELECT condition_occurrence_id, person_id, condition_start_date, condition_source_value "
        "FROM condition_occurrence ORDER BY condition_occurrence_id"
    )
    assert back.column("person_id").to_pylist() == data.column("person_id").to_pylist()
    assert (
        back.column("condition_start_date").to_pylist()
        == data.column("condition_start_date").to_pylist()
    )
    load = list_loads(backend, step="test").to_pylist()[0]
    assert load["status"] == "success"
    assert (load["rows_read"], load["rows_accepted"], load["rows_quarantined"]) == (1003, 1000, 3)
    assert load["input_hash"] == "abc"
    assert load["target_table"] == "condition_occurrence"
    assert load["ended_at"] >= load["started_at"]


def test_columns_in_any_order_and_optional_absent(backend: Backend) -> None:
    create_store(backend)
    data = condition_rows(10)
    reordered = data.select(list(reversed(data.column_names)))
    bulk_load(backend, "condition_occurrence", reordered, step="test", source="unit")
    assert (
        backend.scalar("SELECT count(*) FROM condition_occurrence WHERE stop_reason IS NULL") == 10
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t: t.append_column("nir", pa.array(["x"] * t.num_rows)), "has no column(s) nir"),
        (lambda t: t.drop_columns(["person_id"]), "needs column(s) person_id"),
        (
            lambda t: t.set_column(
                1, "person_id", pa.array([None] + [1] * (t.num_rows - 1), pa.int64())
            ),
            "person_id is required but 1 row(s) are null (first at row 0)",
        ),
        (
            lambda t: t.set_column(5, "condition_source_value", pa.array(["x" * 51] * t.num_rows)),
            "condition_source_value is varchar(50) but 5 value(s) are longer",
        ),
        (
            lambda t: t.set_column(2, "condition_concept_id", pa.array(["abc"] * t.num_rows)),
            "cannot be converted to integer",
        ),
    ],
)
def test_bad_tables_are_refused_with_a_clear_reason(backend: Backend, mutate, message: str) -> None:
    create_store(backend)
    with pytest.raises(BulkLoadError, match=message.replace("(", r"\(").replace(")", r"\)")):
        bulk_load(
            backend, "condition_occurrence", mutate(condition_rows(5)), step="bad", source="unit"
        )
    assert backend.count_rows("condition_occurrence") == 0
    failed = list_loads(backend, step="bad").to_pylist()[0]
    assert failed["status"] == "failed"
    assert failed["message"]


def test_engine_refusal_is_recorded_and_nothing_kept(backend: Backend) -> None:
    create_store(backend)
    bulk_load(backend, "condition_occurrence", condition_rows(5), step="ok", source="unit")
    duplicate_keys = condition_rows(5)
    with pytest.raises(BulkLoadError, match="refused the load"):
        bulk_load(backend, "condition_occurrence", duplicate_keys, step="dup", source="unit")
    assert backend.count_rows("condition_occurrence") == 5
    assert list_loads(backend, step="dup").to_pylist()[0]["status"] == "failed"


def test_unknown_table() -> None:
    with pytest.raises(KeyError, match="not a table"):
        table_spec("patients")


def test_error_messages_do_not_echo_values() -> None:
    spec = table_spec("person")
    data = pa.table(
        {
            "person_id": [1],
            "gender_concept_id": [8507],
            "year_of_birth": ["1952-03-04"],
            "race_concept_id": [0],
            "ethnicity_concept_id": [0],
        }
    )
    with pytest.raises(BulkLoadError) as info:
        conform_to_spec(data, spec)
    assert "1952-03-04" not in str(info.value)


_text = st.one_of(st.none(), st.text(max_size=50))
_dates = st.one_of(
    st.none(), st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1))
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 2**62), st.integers(-(2**62), 2**62), _dates, _text),
        min_size=0,
        max_size=30,
        unique_by=lambda r: r[0],
    )
)
def test_any_valid_rows_roundtrip_on_duckdb(duckdb_backend: Backend, rows: list[tuple]) -> None:
    create_store(duckdb_backend)
    duckdb_backend.execute("DELETE FROM condition_occurrence")
    data = pa.table(
        {
            "condition_occurrence_id": pa.array([r[0] for r in rows], pa.int64()),
            "person_id": pa.array([r[1] for r in rows], pa.int64()),
            "condition_concept_id": pa.array([0] * len(rows), pa.int64()),
            "condition_start_date": pa.array(
                [r[2] or dt.date(2000, 1, 1) for r in rows], pa.date32()
            ),
            "condition_end_date": pa.array([r[2] for r in rows], pa.date32()),
            "condition_type_concept_id": pa.array([32817] * len(rows), pa.int64()),
            "condition_source_value": pa.array([r[3] for r in rows], pa.string()),
        }
    )
    bulk_load(duckdb_backend, "condition_occurrence", data, step="prop", source="hypothesis")
    back = duckdb_backend.query_arrow(
        "SELECT condition_occurrence_id, person_id, condition_end_date, condition_source_value "
        "FROM condition_occurrence ORDER BY condition_occurrence_id"
    )
    expected = sorted(rows, key=lambda r: r[0])
    assert back.column("person_id").to_pylist() == [r[1] for r in expected]
    assert back.column("condition_end_date").to_pylist() == [r[2] for r in expected]
    assert back.column("condition_source_value").to_pylist() == [r[3] for r in expected]


def test_big_first_load_keeps_the_primary_key_and_refuses_duplicates(backend: Backend) -> None:
    create_store(backend)
    n = 120_000  # above the size at which DuckDB builds the index after loading
    data = condition_rows(n)
    ids = data.column("condition_occurrence_id").to_numpy().copy()
    ids[-1] = ids[0]
    duplicated = data.set_column(0, "condition_occurrence_id", pa.array(ids))
    with pytest.raises(BulkLoadError):
        bulk_load(backend, "condition_occurrence", duplicated, step="big", source="unit")
    assert backend.count_rows("condition_occurrence") == 0
    assert not [t for t in backend.list_tables() if t.startswith("__oncobase")]
    bulk_load(backend, "condition_occurrence", data, step="big", source="unit")
    assert backend.count_rows("condition_occurrence") == n
    assert backend.primary_key("condition_occurrence") == ["condition_occurrence_id"]
    assert [c.nullable for c in backend.describe("condition_occurrence")][:2] == [False, False]
    with pytest.raises(BulkLoadError):
        bulk_load(backend, "condition_occurrence", condition_rows(1), step="big", source="unit")
