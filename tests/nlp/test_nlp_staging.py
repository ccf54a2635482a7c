"""The extract step's staging: identity apart, notes, diagnoses and cancer modifiers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow.parquet as pq
from typer.testing import CliRunner

from oncobase.cli.nlp import app
from oncobase.config import Settings
from oncobase.ingest.staging import clinical_dir, identity_path
from oncobase.nlp import SCHEMA_KEYS
from oncobase.nlp.staging import measurement_rows, processing_date, stage_pathology_lab

REPORT = {
    "report_id": "LAB01-P24-0000001",
    "lab_id": "LAB01",
    "local_patient_id": "LAB01-42",
    "family_name": "Martin",
    "first_names": ["Anne"],
    "birth_date": "1960-01-02",
    "sex": "F",
    "collected_date": "2024-03-01",
    "text": "Conclusion : carcinome canalaire infiltrant du QSE du sein droit, grade SBR II, "
    "pT1c pN0 (0/3). RO 90 %. Limites saines.",
}


def test_measurement_rows_are_cancer_modifiers() -> None:
    extraction = {"cancer": True, "prefix": "p", "T": "1c", "N": "0", "M": None, "er_pct": 90.0}
    rows = measurement_rows(extraction, local_id="x", report_id="r", date=dt.date(2024, 1, 1))
    codes = {r["measurement_source_value"]: r for r in rows}
    assert {"T1c", "N0", "er_pct"} <= set(codes)
    assert codes["T1c"]["meas_event_field_concept_id"] == 1147127
    assert codes["T1c"]["event_record_key"] == "nlp:r:condition"
    assert measurement_rows({"cancer": False}, local_id="x", report_id="r", date=None) == []


def test_stage_lab(tmp_path: Path) -> None:
    feed = tmp_path / "LAB01" / "reports.ndjson"
    feed.parent.mkdir()
    feed.write_text(json.dumps(REPORT) + "\n", encoding="utf-8")
    settings = Settings(home=tmp_path / "home")
    counts, extractions = stage_pathology_lab(feed, settings=settings, processes=1)
    assert counts["note"] == 1 and counts["condition_occurrence"] == 1
    assert extractions[0]["topography_icdo3"] == "C50.4"
    condition = pq.read_table(clinical_dir(settings, "LAB01") / "condition_occurrence.parquet")
    row = condition.to_pylist()[0]
    assert row["condition_status_source_value"] == "8500/3-C50.4"
    assert row["condition_source_value"] == "C50.4"
    note = pq.read_table(clinical_dir(settings, "LAB01") / "note.parquet").to_pylist()[0]
    assert note["note_type_concept_id"] == 32817 and "Martin" not in note["note_text"]
    identity = pq.read_table(identity_path(settings, "LAB01")).to_pylist()[0]
    assert identity["source_kind"] == "lab" and identity["last_name"] == "Martin"


def test_nlp_date_is_the_first_processing_of_the_content(tmp_path: Path) -> None:
    feed = tmp_path / "LAB01" / "reports.ndjson"
    feed.parent.mkdir()
    feed.write_text(json.dumps(REPORT) + "\n", encoding="utf-8")
    settings = Settings(home=tmp_path / "home")
    first = processing_date(settings, feed, today=dt.date(2026, 1, 5))
    # Re-staging the same content another day keeps the first day: the staged rows are equal.
    assert (
        processing_date(settings, feed, today=dt.date(2026, 3, 9)) == first == dt.date(2026, 1, 5)
    )
    feed.write_text(json.dumps({**REPORT, "report_id": "LAB01-P24-0000002"}) + "\n")
    assert processing_date(settings, feed, today=dt.date(2026, 3, 9)) == dt.date(2026, 3, 9)
    stage_pathology_lab(feed, settings=settings, processes=1)
    rows = pq.read_table(clinical_dir(settings, "LAB01") / "note_nlp.parquet").to_pylist()
    assert rows and {r["nlp_date"] for r in rows} == {dt.date(2026, 3, 9)}


def test_cli_extract_and_evaluate(tmp_path: Path) -> None:
    source = tmp_path / "reports.ndjson"
    source.write_text(json.dumps(REPORT) + "\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    runner = CliRunner()
    result = runner.invoke(app, ["extract", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    pred = json.loads(out.read_text().splitlines()[0])
    assert pred["report_id"] == REPORT["report_id"] and pred["T"] == "1c"
    result = runner.invoke(app, ["evaluate", "--gold", str(out), str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert '"fully_correct": 1' in result.output
    assert (
        runner.invoke(app, ["extract", str(tmp_path / "missing.txt"), "-o", str(out)]).exit_code
        == 2
    )


def test_note_nlp_rows_staged_and_loaded(tmp_path: Path) -> None:
    from oncobase.ingest.load import load_staging
    from oncobase.nlp.staging import NLP_SYSTEM
    from oncobase.store import connect, create_store

    feed = tmp_path / "LAB01" / "reports.ndjson"
    feed.parent.mkdir()
    feed.write_text(json.dumps(REPORT) + "\n", encoding="utf-8")
    settings = Settings(home=tmp_path / "home")
    counts, extractions = stage_pathology_lab(feed, settings=settings, processes=1)
    non_null = [k for k in SCHEMA_KEYS if extractions[0][k] is not None]
    assert counts["note_nlp"] == len(non_null)  # one row per non-null key (cancer: true)
    staged = pq.read_table(clinical_dir(settings, "LAB01") / "note_nlp.parquet").to_pylist()
    by_key = {r["record_key"]: r for r in staged}
    grade = by_key[f"nlp:{REPORT['report_id']}:grade"]
    start = int(grade["offset"])
    assert (
        REPORT["text"][start : start + len(grade["snippet"])] == grade["snippet"] == "grade SBR II"
    )
    assert grade["term_modifiers"] == "key=grade;section=conclusion;value=G2"
    assert grade["note_record_key"] == REPORT["report_id"]
    assert grade["nlp_system"] == NLP_SYSTEM and grade["term_exists"] == "Y"

    backend = connect(settings=settings)
    create_store(backend)
    report = load_staging(backend, settings)  # no person index: provisional persons
    assert report.loaded["LAB01"]["note_nlp"] == len(staged)
    rows = backend.query_arrow(
        "SELECT n.note_id, n.note_text, x.note_id AS nlp_note_id, x.offset, x.snippet, "
        "x.term_modifiers, x.nlp_system FROM note_nlp x JOIN note n ON n.note_id = x.note_id"
    ).to_pylist()
    assert len(rows) == len(staged)
    for row in rows:
        start = int(row["offset"])
        assert row["note_text"][start : start + len(row["snippet"])] == row["snippet"]
    assert {r["note_id"] for r in rows} == {rows[0]["nlp_note_id"]}
