"""The FHIR R4 Bulk Data side of an extract: one NDJSON file per resource type.

Resources are built column-at-a-time by an in-memory DuckDB over the extract's Arrow tables
(``to_json`` of a struct, nulls dropped with ``json_merge_patch``), carrying only the permitted
elements:

* person (+ death) → Patient: id (= the pseudonym), gender, birthDate (the year),
  address.district (département), deceasedDateTime;
* condition_occurrence → Condition: subject, code (ICD-10 and ICD-O-3 codings), onsetDateTime;
* measurement → Observation: status, subject, code (text: the TNM item), valueString;
* drug_exposure → MedicationStatement: status, subject, medicationCodeableConcept (ATC),
  effectiveDateTime;
* procedure_occurrence → Procedure: status, subject, code (text), performedDateTime.

Dates are written at the permit's precision (``YYYY-MM`` for ``month``, ``YYYY`` for ``year``).
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

PSEUDONYM = "person_pseudonym"
OTHER_TEXT = "other (generalised)"
_DATE_FORMATS = {"day": "%Y-%m-%d", "shift": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}
_ATC = r"^[A-Z][0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?$"
ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10"
ICDO3_SYSTEM = "http://terminology.hl7.org/CodeSystem/icd-o-3"
ATC_SYSTEM = "http://www.whocc.no/atc"
RESOURCES = {
    "person": "Patient",
    "condition_occurrence": "Condition",
    "measurement": "Observation",
    "drug_exposure": "MedicationStatement",
    "procedure_occurrence": "Procedure",
}


def _col(table: pa.Table, name: str, *, alias: str = "t", sql_type: str = "VARCHAR") -> str:
    """The column as SQL, or a typed NULL when the permit does not release it."""
    return f"{alias}.{name}" if name in table.column_names else f"CAST(NULL AS {sql_type})"


def _date(table: pa.Table, name: str, fmt: str) -> str:
    if name not in table.column_names:
        return "CAST(NULL AS VARCHAR)"
    return f"strftime(t.{name}, '{fmt}')"


def _subject() -> str:
    return f"{{'reference': 'Patient/' || t.{PSEUDONYM}}}"


def _patient_sql(tables: dict[str, pa.Table], fmt: str) -> str:
    person = tables["person"]
    gender = (
        "CASE t.gender_concept_id WHEN 8507 THEN 'male' WHEN 8532 THEN 'female' ELSE 'unknown' END"
        if "gender_concept_id" in person.column_names
        else "CAST(NULL AS VARCHAR)"
    )
    county = _col(person, "county")
    address = (
        f"CASE WHEN {county} IS NULL THEN NULL ELSE [{{'district': {county}, 'country': 'FR'}}] END"
    )
    death = tables.get("death")
    deceased = (
        f"(SELECT strftime(min(d.death_date), '{fmt}') FROM death d "
        f"WHERE d.{PSEUDONYM} = t.{PSEUDONYM})"
        if death is not None and "death_date" in death.column_names
        else "CAST(NULL AS VARCHAR)"
    )
    return (
        "SELECT {'resourceType': 'Patient', "
        f"'id': t.{PSEUDONYM}, 'gender': {gender}, "
        f"'birthDate': CAST({_col(person, 'year_of_birth', sql_type='INTEGER')} AS VARCHAR), "
        f"'address': {address}, 'deceasedDateTime': {deceased}}} AS r "
        f"FROM person t ORDER BY t.{PSEUDONYM}"
    )


def _condition_sql(table: pa.Table, fmt: str) -> str:
    icd10, icdo3 = (
        _col(table, "condition_source_value"),
        _col(table, "condition_status_source_value"),
    )
    codings = (
        f"list_filter([CASE WHEN {icd10} IS NOT NULL AND {icd10} <> 'other' THEN "
        f"{{'system': '{ICD10_SYSTEM}', 'code': {icd10}}} END, "
        f"CASE WHEN {icdo3} IS NOT NULL AND {icdo3} <> 'other' THEN "
        f"{{'system': '{ICDO3_SYSTEM}', 'code': {icdo3}}} END], lambda x: x IS NOT NULL)"
    )
    other = f"({icd10} = 'other' OR {icdo3} = 'other')"
    return (
        "SELECT {'resourceType': 'Condition', "
        "'id': 'cond-' || CAST(t.condition_occurrence_id AS VARCHAR), "
        f"'subject': {_subject()}, "
        f"'code': CASE WHEN len(c.codings) > 0 OR coalesce({other}, false) THEN "
        f"{{'coding': CASE WHEN len(c.codings) > 0 THEN c.codings END, "
        f"'text': CASE WHEN coalesce({other}, false) THEN '{OTHER_TEXT}' END}} END, "
        f"'onsetDateTime': {_date(table, 'condition_start_date', fmt)}}} AS r "
        f"FROM condition_occurrence t, LATERAL (SELECT {codings} AS codings) c "
        "ORDER BY t.condition_occurrence_id"
    )


def _observation_sql(table: pa.Table) -> str:
    item = _col(table, "measurement_source_value")
    value = _col(table, "value_source_value")
    return (
        "SELECT {'resourceType': 'Observation', "
        "'id': 'stage-' || CAST(t.measurement_id AS VARCHAR), 'status': 'final', "
        f"'code': {{'text': coalesce({item}, 'TNM stage')}}, 'subject': {_subject()}, "
        f"'valueString': {value}}} AS r FROM measurement t ORDER BY t.measurement_id"
    )


def _medication_sql(table: pa.Table, fmt: str) -> str:
    if "drug_source_value" in table.column_names:
        drug = "t.drug_source_value"
        medication = (
            f"CASE WHEN {drug} IS NULL THEN {{'coding': NULL, 'text': 'unknown'}} "
            f"WHEN regexp_matches({drug}, '{_ATC}') THEN "
            f"{{'coding': [{{'system': '{ATC_SYSTEM}', 'code': {drug}}}], 'text': NULL}} "
            f"WHEN {drug} = 'other' THEN {{'coding': NULL, 'text': '{OTHER_TEXT}'}} "
            f"ELSE {{'coding': NULL, 'text': {drug}}} END"
        )
    else:
        medication = "{'text': 'not released'}"
    return (
        "SELECT {'resourceType': 'MedicationStatement', "
        "'id': 'drug-' || CAST(t.drug_exposure_id AS VARCHAR), 'status': 'unknown', "
        f"'medicationCodeableConcept': {medication}, 'subject': {_subject()}, "
        f"'effectiveDateTime': {_date(table, 'drug_exposure_start_date', fmt)}}} AS r "
        "FROM drug_exposure t ORDER BY t.drug_exposure_id"
    )


def _procedure_sql(table: pa.Table, fmt: str) -> str:
    code = _col(table, "procedure_source_value")
    return (
        "SELECT {'resourceType': 'Procedure', "
        "'id': 'proc-' || CAST(t.procedure_occurrence_id AS VARCHAR), 'status': 'completed', "
        f"'subject': {_subject()}, "
        f"'code': CASE WHEN {code} IS NOT NULL THEN {{'text': {code}}} END, "
        f"'performedDateTime': {_date(table, 'procedure_date', fmt)}}} AS r "
        "FROM procedure_occurrence t ORDER BY t.procedure_occurrence_id"
    )


def write_fhir(tables: dict[str, pa.Table], folder: Path, *, precision: str) -> dict[str, int]:
    """Write ``<Resource>.ndjson`` for each released table; the number of resources of each."""
    fmt = _DATE_FORMATS[precision]
    queries = {"Patient": _patient_sql(tables, fmt)}
    if "condition_occurrence" in tables:
        queries["Condition"] = _condition_sql(tables["condition_occurrence"], fmt)
    if "measurement" in tables:
        queries["Observation"] = _observation_sql(tables["measurement"])
    if "drug_exposure" in tables:
        queries["MedicationStatement"] = _medication_sql(tables["drug_exposure"], fmt)
    if "procedure_occurrence" in tables:
        queries["Procedure"] = _procedure_sql(tables["procedure_occurrence"], fmt)
    counts: dict[str, int] = {}
    con = duckdb.connect()
    try:
        for name, data in tables.items():
            con.register(name, data)
        for resource, sql in queries.items():
            lines = con.sql(
                f"SELECT CAST(json_merge_patch('{{}}', to_json(q.r)) AS VARCHAR) AS line "
                f"FROM ({sql}) q"
            ).to_arrow_table()["line"]
            text = "\n".join(lines.to_pylist())
            (folder / f"{resource}.ndjson").write_text(text + "\n" if text else "", "utf-8")
            counts[resource] = len(lines)
    finally:
        con.close()
    return counts
