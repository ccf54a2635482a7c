"""FHIR ingestion: the minimal export, and every fault quarantined or handled, counts adding up."""

from __future__ import annotations

import gzip
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from tests.ingest._fhir_testbed import FAMILY, NIR, Testbed, condition, patient, stage_obs

from oncobase.config import Settings
from oncobase.ingest.fhir import FhirStageResult, stage_fhir
from oncobase.ingest.fhir.map import departement_of
from oncobase.ingest.fhir.validate import is_valid_date
from oncobase.ingest.staging import identity_path, read_staged


def _stage(folder: Path, home: Settings) -> FhirStageResult:
    result = stage_fhir(folder, settings=home)
    assert result.read == result.accepted + result.ignored + result.quarantined_total
    return result


def test_minimal_export_is_staged(tmp_path: Path, home: Settings) -> None:
    result = _stage(Testbed(tmp_path / "HOSPX").minimal().write(), home)
    assert result.source == "HOSPX"
    assert result.read == result.accepted == 5
    staged = read_staged(home, "HOSPX")
    person = staged["person"].to_pylist()[0]
    assert person["year_of_birth"] == 1950 and person["month_of_birth"] == 1
    assert person["gender_concept_id"] == 8532 and person["departement"] == "2A"
    cond = staged["condition_occurrence"].to_pylist()[0]
    assert cond["condition_source_value"] == "C50.4"
    assert cond["condition_status_source_value"] == "8500/3-C50.4"
    meas = staged["measurement"].to_pylist()[0]
    assert meas["measurement_source_value"] == "T2"
    assert meas["event_record_key"] == "Condition/c1"
    assert meas["meas_event_field_concept_id"] == 1147127
    assert str(meas["measurement_date"]) == "2019-05-01"
    episodes = {e["record_key"]: e for e in staged["episode"].to_pylist()}
    disease = episodes["Episode/disease/Condition/c1"]
    assert disease["episode_concept_id"] == 32528
    treatments = [e for e in episodes.values() if e["episode_concept_id"] == 32531]
    assert len(treatments) == 2
    assert {t["parent_record_key"] for t in treatments} == {"Episode/disease/Condition/c1"}
    events = staged["episode_event"].to_pylist()
    assert {(e["event_table"], e["event_record_key"]) for e in events} >= {
        ("condition_occurrence", "Condition/c1"),
        ("measurement", "Observation/o1"),
        ("drug_exposure", "MedicationRequest/m1"),
        ("procedure_occurrence", "Procedure/s1"),
    }
    identity = pq.read_table(identity_path(home, "HOSPX")).to_pylist()[0]
    assert identity["record_id"] == "HOSPX:p1" and identity["nir"] == NIR
    assert identity["birth_name"] == FAMILY and identity["birth_date"] == "1950-01-31"


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b'{"resourceType": "Condition", "id": "x"', "invalid-json"),
        (b"not json at all", "invalid-json"),
        (b'{"resourceType": "Conditionz", "id": "x"}', "unknown-resource-type"),
        (orjson.dumps(condition("c9", onset="2019-02-30")), "bad-date"),
        (orjson.dumps(condition("c9", onset="YYYY-MM-DD")), "bad-date"),
        (orjson.dumps({**condition("c9"), "subject": None}), "missing-element"),
        (orjson.dumps(condition("c1")), "duplicate-id"),
        (orjson.dumps(patient()).replace(b"Secr\xc3\xa8te", b"Secr\xe8te"), "bad-encoding"),
        (b"[1, 2]", "invalid-json"),
    ],
)
def test_faults_are_quarantined(tmp_path: Path, home: Settings, line: bytes, reason: str) -> None:
    folder = Testbed(tmp_path / "H").minimal().add_raw("Extra.ndjson", line).write()
    result = _stage(folder, home)
    assert result.quarantined == {reason: 1}
    assert result.accepted == 5
    reject = result.quarantine.rejects[0]
    assert reject.file == "Extra.ndjson" and reject.location == "line 1"
    assert NIR not in reject.reason and FAMILY not in reject.reason


def test_bom_crlf_gzip_and_blank_lines(tmp_path: Path, home: Settings) -> None:
    folder = tmp_path / "H"
    folder.mkdir()
    body = b"\xef\xbb\xbf" + orjson.dumps(patient()) + b"\r\n\r\n" + orjson.dumps(condition())
    (folder / "Patient.ndjson.gz").write_bytes(gzip.compress(body + b"\r\n"))
    result = _stage(folder, home)
    assert result.accepted == 2 and not result.quarantined


def test_unknown_code_system_kept_as_source_value(tmp_path: Path, home: Settings) -> None:
    cond = condition()
    cond["code"] = {"coding": [{"system": "urn:example:local", "code": "K-42"}]}
    result = _stage(Testbed(tmp_path / "H").add(patient(), cond).write(), home)
    assert result.accepted == 2
    row = read_staged(home, "H")["condition_occurrence"].to_pylist()[0]
    assert row["condition_source_value"] == "K-42" and row["condition_concept_id"] == 0


def test_empty_file_gives_a_note(tmp_path: Path, home: Settings) -> None:
    folder = tmp_path / "H"
    folder.mkdir()
    (folder / "Patient.ndjson").write_bytes(b"")
    result = _stage(folder, home)
    assert result.read == 0
    assert any("empty file" in note for note in result.notes)


def test_tolerated_types_are_ignored_not_rejected(tmp_path: Path, home: Settings) -> None:
    org = {"resourceType": "Organization", "id": "o"}
    result = _stage(Testbed(tmp_path / "H").add(patient(), org).write(), home)
    assert result.ignored == 1 and result.ignored_by_type == {"Organization": 1}


def test_unresolved_references_are_kept_and_counted(tmp_path: Path, home: Settings) -> None:
    result = _stage(Testbed(tmp_path / "H").add(stage_obs(cid="nowhere")).write(), home)
    assert result.accepted == 1 and result.unresolved_references == 2  # patient + condition


def test_fifty_megabyte_line(tmp_path: Path, home: Settings) -> None:
    doc = {
        "resourceType": "DocumentReference",
        "id": "big",
        "status": "current",
        "subject": {"reference": "Patient/p1"},
        "date": "2020-01-01T10:00:00+01:00",
        "content": [{"attachment": {"contentType": "text/plain", "data": "QUJD" * 13_000_000}}],
    }
    folder = Testbed(tmp_path / "H").add(patient(), doc).write()
    result = _stage(folder, home)
    assert result.accepted == 2
    note = read_staged(home, "H")["note"].to_pylist()[0]
    assert len(note["note_text"]) == 39_000_000


def test_same_input_same_output(tmp_path: Path, home: Settings) -> None:
    folder = Testbed(tmp_path / "H").minimal().write()
    _stage(folder, home)
    first = read_staged(home, "H")
    _stage(folder, home)
    second = read_staged(home, "H")
    assert first.keys() == second.keys()
    for table in first:
        assert first[table].equals(second[table]), table


def test_dates_and_departements() -> None:
    assert is_valid_date("2019") and is_valid_date("2019-05") and is_valid_date("2019-05-02")
    assert is_valid_date("2019-05-02T10:11:12.123+02:00")
    assert not is_valid_date("2019-13") and not is_valid_date("19-05-02")
    assert departement_of("20000") == "2A" and departement_of("20200") == "2B"
    assert departement_of("97411") == "974" and departement_of("75012") == "75"
    assert departement_of("ABCDE") is None
