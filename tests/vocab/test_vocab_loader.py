"""Loading the built-in vocabulary and Athena exports, and mapping codes, on both engines."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from oncobase.errors import VocabError
from oncobase.store import Backend, create_store, list_loads
from oncobase.vocab import (
    LOCAL_CONCEPT_ID_START,
    builtin_vocabulary,
    load_athena,
    load_builtin,
    map_code,
    map_to_standard,
    read_source_file,
)

SNOMED_BREAST_CANCER = 4112853  # an Athena-range concept id for the test export
ATHENA_ICD10_C509 = 45542397


def write_athena_export(folder: Path, *, bad_line: bool = False) -> Path:
    """A minimal Athena download: tab-separated, YYYYMMDD dates, no quoting."""
    folder.mkdir(parents=True, exist_ok=True)
    concept = [
        "concept_id\tconcept_name\tdomain_id\tvocabulary_id\tconcept_class_id\tstandard_concept"
        "\tconcept_code\tvalid_start_date\tvalid_end_date\tinvalid_reason",
        f"{ATHENA_ICD10_C509}\tMalignant neoplasm: Breast, unspecified\tCondition\tICD10\t"
        "ICD10 code\t\tC50.9\t19700101\t20991231\t",
        f'{SNOMED_BREAST_CANCER}\tMalignant tumor of breast "NOS"\tCondition\tSNOMED\t'
        "Clinical Finding\tS\t254837009\t19700101\t20991231\t",
    ]
    if bad_line:
        concept.append("999\tbroken line with too few fields")
    (folder / "CONCEPT.csv").write_text("\n".join(concept) + "\n")
    (folder / "CONCEPT_RELATIONSHIP.csv").write_text(
        "concept_id_1\tconcept_id_2\trelationship_id\tvalid_start_date\tvalid_end_date\t"
        f"invalid_reason\n{ATHENA_ICD10_C509}\t{SNOMED_BREAST_CANCER}\tMaps to\t19700101\t"
        "20991231\t\n"
    )
    (folder / "VOCABULARY.csv").write_text(
        "vocabulary_id\tvocabulary_name\tvocabulary_reference\tvocabulary_version\t"
        "vocabulary_concept_id\nICD10\tInternational Classification of Diseases, Tenth "
        "Revision (WHO)\tWHO\t2021 Release\t44819124\n"
    )
    return folder


def test_builtin_rows_match_the_shipped_files(backend: Backend) -> None:
    create_store(backend)
    report = load_builtin(backend)
    tables = builtin_vocabulary()
    for table, data in tables.items():
        assert backend.count_rows(table) == data.num_rows == report.rows[table]
    files = [
        "icd10.csv",
        "icdo3_topography.csv",
        "icdo3_morphology.csv",
        "tnm8.csv",
        "biomarkers.csv",
        "atc_l01_l02.csv",
        "departements.csv",
    ]
    shipped = sum(read_source_file(f).num_rows for f in files)
    assert (
        backend.scalar(
            f"SELECT count(*) FROM concept WHERE concept_id < {LOCAL_CONCEPT_ID_START + 900_000}"
            " AND vocabulary_id <> 'LOINC'"
        )
        == shipped
    )
    assert backend.scalar("SELECT min(concept_id) FROM concept") >= LOCAL_CONCEPT_ID_START
    loads = list_loads(backend, step="vocab").to_pylist()
    assert {r["target_table"] for r in loads} >= {"concept", "concept_relationship"}


def test_builtin_load_is_idempotent(backend: Backend) -> None:
    create_store(backend)
    load_builtin(backend)
    before = {t: backend.count_rows(t) for t in builtin_vocabulary()}
    load_builtin(backend)
    assert {t: backend.count_rows(t) for t in builtin_vocabulary()} == before


def test_mapping_codes_a_column_at_a_time(backend: Backend) -> None:
    create_store(backend)
    load_builtin(backend)
    codes = pa.array(["C50.9", "c509 ", "C34.1", None, "Z99.9", "C50"])
    result = map_to_standard(backend, codes, "ICD10")
    ids = result.column("concept_id").to_pylist()
    assert ids[0] == ids[1] >= LOCAL_CONCEPT_ID_START
    assert ids[2] not in (0, ids[0])
    assert ids[3] == 0
    assert ids[4] == 0
    assert result.column("source_value").to_pylist()[1] == "c509 "
    assert (
        backend.scalar("SELECT concept_code FROM concept WHERE concept_id = $1", (ids[5],)) == "C50"
    )
    # the ICD-O-3 topography C50.9 is another concept than the ICD-10 code C50.9
    assert map_code(backend, "C50.9", "ICDO3") not in (0, ids[0])
    assert map_code(backend, "8500/3", "ICDO3") > 0
    assert map_code(backend, "L01XA01", "ATC") > 0
    assert map_code(backend, "C50.9", "NOPE") == 0


def test_biomarkers_map_to_loinc_when_a_loinc_code_exists(backend: Backend) -> None:
    create_store(backend)
    load_builtin(backend)
    biomarkers = read_source_file("biomarkers.csv").to_pylist()
    with_loinc = [b for b in biomarkers if b["loinc_code"]]
    without = [b for b in biomarkers if not b["loinc_code"]]
    assert with_loinc
    assert without
    first = with_loinc[0]
    mapped = map_code(backend, first["code"], "OncoBase Biomarker")
    assert mapped == map_code(backend, first["loinc_code"], "LOINC") != first["concept_id"]
    assert map_code(backend, without[0]["code"], "OncoBase Biomarker") == without[0]["concept_id"]


def test_athena_export_takes_precedence(backend: Backend, tmp_path: Path) -> None:
    create_store(backend)
    load_builtin(backend)
    local = map_code(backend, "C50.9", "ICD10")
    assert local >= LOCAL_CONCEPT_ID_START
    report = load_athena(backend, write_athena_export(tmp_path / "athena", bad_line=True))
    assert report.rows["concept"] == 2
    assert report.rejected["CONCEPT.csv"][0].startswith("CONCEPT.csv line 4")
    # the ICD-10 source code now resolves to Athena's concept, which maps to SNOMED
    mapped = map_to_standard(backend, ["C509", "C34.1"], "ICD10").to_pylist()
    assert mapped[0]["source_concept_id"] == ATHENA_ICD10_C509
    assert mapped[0]["concept_id"] == SNOMED_BREAST_CANCER
    assert mapped[1]["concept_id"] >= LOCAL_CONCEPT_ID_START  # only the built-in has C34.1
    name = backend.scalar(
        "SELECT concept_name FROM concept WHERE concept_id = $1", (SNOMED_BREAST_CANCER,)
    )
    assert name == 'Malignant tumor of breast "NOS"'
    assert (
        backend.scalar("SELECT vocabulary_version FROM vocabulary WHERE vocabulary_id = 'ICD10'")
        == "2021 Release"
    )
    # reloading the built-in subset keeps Athena's rows
    load_builtin(backend)
    assert map_code(backend, "C50.9", "ICD10") == SNOMED_BREAST_CANCER
    assert backend.scalar("SELECT count(*) FROM vocabulary WHERE vocabulary_id = 'ICD10'") == 1
    athena_load = next(
        r
        for r in list_loads(backend, step="vocab.athena").to_pylist()
        if r["target_table"] == "concept"
    )
    assert athena_load["rows_quarantined"] == 1
    assert athena_load["rows_read"] == 3
    assert len(athena_load["input_hash"]) == 64


def test_athena_reload_replaces_rather_than_duplicates(backend: Backend, tmp_path: Path) -> None:
    create_store(backend)
    folder = write_athena_export(tmp_path / "athena")
    load_athena(backend, folder)
    load_athena(backend, folder)
    assert (
        backend.scalar(f"SELECT count(*) FROM concept WHERE concept_id < {LOCAL_CONCEPT_ID_START}")
        == 2
    )
    assert backend.count_rows("concept_relationship") == 1


def test_athena_errors_say_what_to_do(duckdb_backend: Backend, tmp_path: Path) -> None:
    create_store(duckdb_backend)
    with pytest.raises(VocabError, match="is not a folder"):
        load_athena(duckdb_backend, tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(VocabError, match=r"has no CONCEPT\.csv"):
        load_athena(duckdb_backend, tmp_path / "empty")
    folder = write_athena_export(tmp_path / "bad")
    text = (folder / "CONCEPT.csv").read_text().replace("19700101", "1970-13-45", 1)
    (folder / "CONCEPT.csv").write_text(text)
    with pytest.raises(VocabError, match="valid_start_date has a date"):
        load_athena(duckdb_backend, folder)
