"""FHIR ingestion on the synthetic hospital feeds and on real-world examples of other projects."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.conftest import shared_path

from oncobase.config import Settings
from oncobase.ingest.fhir import stage_fhir
from oncobase.ingest.fhir.read import iter_ndjson
from oncobase.ingest.staging import identity_path, read_staged
from oncobase.synth import generate_nation

TNM_LOINC = {"21908-9", "21905-5", "21906-3", "21907-1", "21902-8", "21899-0", "21900-6", "21901-4"}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("nation")
    generate_nation(out, patients=150, seed=11, feeds=("hospitals",))
    return out / "feeds" / "hospitals"


def _lines(folder: Path, name: str) -> list[dict[str, object]]:
    path = folder / f"{name}.ndjson"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_round_trip_on_synthetic_export(export: Path, home: Settings) -> None:
    hospital = max(export.iterdir(), key=lambda p: p.stat().st_size if p.is_dir() else 0)
    hospital = max(export.iterdir(), key=lambda p: len(_lines(p, "Condition")))
    result = stage_fhir(hospital, settings=home)
    assert result.read == result.accepted and not result.quarantined
    staged = read_staged(home, hospital.name)
    conditions = _lines(hospital, "Condition")
    observations = _lines(hospital, "Observation")
    procedures = _lines(hospital, "Procedure")
    drugs = _lines(hospital, "MedicationRequest") + _lines(hospital, "MedicationAdministration")
    assert staged["condition_occurrence"].num_rows == len(conditions)
    assert staged["measurement"].num_rows == len(observations)
    assert staged["procedure_occurrence"].num_rows == len(procedures)
    assert staged["drug_exposure"].num_rows == len(drugs)
    assert staged["visit_occurrence"].num_rows == len(_lines(hospital, "Encounter"))
    assert staged["person"].num_rows == len(_lines(hospital, "Patient"))
    # Every stage/TNM observation is a modifier of its Condition.
    meas = {r["record_key"]: r for r in staged["measurement"].to_pylist()}
    stages = [o for o in observations if o["code"]["coding"][0]["code"] in TNM_LOINC]  # type: ignore[index]
    assert stages
    for obs in stages:
        row = meas[f"Observation/{obs['id']}"]
        assert row["event_record_key"] == obs["focus"][0]["reference"]  # type: ignore[index]
        assert row["measurement_source_value"]
    # A sample, field by field.
    cond = conditions[0]
    row = next(
        r
        for r in staged["condition_occurrence"].to_pylist()
        if r["record_key"] == f"Condition/{cond['id']}"
    )
    assert row["condition_source_value"] == cond["code"]["coding"][0]["code"]  # type: ignore[index]
    assert str(row["condition_start_date"]) == cond["onsetDateTime"]
    assert row["local_patient_id"] == cond["subject"]["reference"].split("/")[1]  # type: ignore[index]
    # One disease episode per primary cancer, one treatment episode per treatment.
    episodes = staged["episode"]
    primaries = [c for c in conditions if "primary" in str(c.get("meta"))]
    assert pc.sum(pc.equal(episodes["episode_concept_id"], 32528)).as_py() == len(primaries)
    treatments = len(procedures) + len(_lines(hospital, "MedicationRequest"))
    assert pc.sum(pc.equal(episodes["episode_concept_id"], 32531)).as_py() == treatments


def test_no_identity_in_clinical_tables(export: Path, home: Settings) -> None:
    hospital = next(p for p in sorted(export.iterdir()) if p.is_dir())
    stage_fhir(hospital, settings=home)
    identity = pq.read_table(identity_path(home, hospital.name))
    secrets = set()
    for column in ("nir", "last_name", "birth_name", "address_line", "birth_date"):
        secrets |= {v for v in identity[column].to_pylist() if v and len(v) > 4}
    assert secrets
    for table, data in read_staged(home, hospital.name).items():
        for column in data.column_names:
            if data[column].type == "string":
                values = set(data[column].drop_null().to_pylist())
                assert not values & secrets, (table, column)


def _stage_all(root: Path, home: Settings) -> dict[str, object]:
    totals: dict[str, int] = {}
    rejects: list[str] = []
    for index, path in enumerate(sorted(root.iterdir())):
        if path.name.endswith(".md"):
            continue
        result = stage_fhir(path, settings=home, source=f"S{index}")
        assert result.read == result.accepted + result.ignored + result.quarantined_total
        for table, rows in result.staged.items():
            totals[table] = totals.get(table, 0) + rows
        rejects += [f"{r.file}:{r.reason.split(':')[0]}" for r in result.quarantine.rejects]
    return {"totals": totals, "rejects": rejects}


def test_real_world_mcode_examples(home: Settings) -> None:
    root = shared_path("standards", "fhir-examples", "mcode-stu1-ig-build")
    found = _stage_all(root, home)
    totals = found["totals"]
    assert isinstance(totals, dict)
    assert totals["condition_occurrence"] == 3  # primary, secondary, comorbid
    assert totals["procedure_occurrence"] == 2 and totals["drug_exposure"] == 2
    assert totals["measurement"] >= 9  # 8 TNM observations + marker …


def test_real_world_placeholders_are_quarantined(home: Settings) -> None:
    root = shared_path("standards", "fhir-examples", "mcode-extraction-framework")
    found = _stage_all(root, home)
    rejects = found["rejects"]
    assert isinstance(rejects, list)
    assert sorted(rejects) == [
        "csv-condition-bundle.json:bad-date",
        "csv-medication-request-bundle.json:invalid-element",
        "primary-cancer-condition.json:missing-element",
    ]
    totals = found["totals"]
    assert isinstance(totals, dict)
    assert totals["measurement"] == 5  # four TNM observations + disease status


def test_real_world_synthea_and_bulk(home: Settings) -> None:
    folder = shared_path("standards", "fhir-examples", "synthea-smart-generated-sample-data")
    for path in sorted(folder.glob("*.json")):
        result = stage_fhir(path, settings=home, source="synthea")
        assert result.read == result.accepted + result.ignored + result.quarantined_total
        bundle = orjson.loads(path.read_bytes())
        n_conditions = sum(
            1 for e in bundle["entry"] if e["resource"]["resourceType"] == "Condition"
        )
        assert result.staged["condition_occurrence"] == n_conditions
    bulk = shared_path("standards", "fhir-examples", "bulk-smart-sample-10-patients")
    result = stage_fhir(bulk, settings=home)
    assert not result.quarantined and result.unresolved_references == 0
    eu = shared_path("standards", "fhir-examples", "hl7-eu-oncology")
    found = _stage_all(eu, home)
    totals = found["totals"]
    assert isinstance(totals, dict)
    assert totals["condition_occurrence"] == 2 and totals["measurement"] == 2  # stage on Condition


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=400))
def test_reader_never_crashes_on_any_bytes(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("any") / "X.ndjson"
    path.write_bytes(data)
    records = list(iter_ndjson(path))
    assert all((r.resource is None) != (r.error is None) for r in records)
    if not data.strip(b"\r\n\t "):
        assert records == []


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.one_of(st.binary(max_size=80), st.just(b'{"resourceType":"Patient","id":"a"}')),
        max_size=12,
    )
)
def test_counts_always_add_up(tmp_path_factory: pytest.TempPathFactory, lines: list[bytes]) -> None:
    base = tmp_path_factory.mktemp("h")
    folder = base / "H"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(b"\n".join(lines))
    result = stage_fhir(folder, settings=Settings(home=base / "home"))
    assert result.read == result.accepted + result.ignored + result.quarantined_total
