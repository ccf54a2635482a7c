"""Stage pathology-lab feeds: identity apart, the report as an OMOP note, the extraction as
cancer-modifier measurements and a diagnosis (``condition_occurrence``).

Conventions of docs/mapping.md: ICD-10 from ICD-O-3 (``oncobase.vocab``),
``condition_status_source_value`` = ``morphology-topography``, TNM as ``T2a``/``N1``/``M0``
measurements with ``meas_event_field_concept_id`` 1147127 pointing at the diagnosis; other
results are measurements with a local code (``er_pct``, ``her2_ihc`` …). Concept ids not
known here are 0 (the load step and vocab mapping resolve what they can).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from oncobase import __version__
from oncobase.config import Settings
from oncobase.ingest.staging import (
    staged_schema,
    staging_root,
    write_identity,
    write_staged,
)
from oncobase.nlp.extract import extract_reports
from oncobase.nlp.schema import GENE_KEYS, SCHEMA_KEYS
from oncobase.nlp.sections import section_at, split_sections
from oncobase.vocab import convert_icdo3_to_icd10

__all__ = [
    "NLP_SYSTEM",
    "measurement_rows",
    "note_nlp_rows",
    "processing_date",
    "read_reports",
    "stage_pathology_lab",
]

EHR = 32817
CANCER_MODIFIER_FIELD = 1147127  # condition_occurrence.condition_occurrence_id
NLP_SYSTEM = f"oncobase.nlp {__version__} / edsnlp 0.23"

_NUMERIC = (
    ("tumor_size_mm", "mm"),
    ("nodes_positive", None),
    ("nodes_examined", None),
    ("er_pct", "%"),
    ("pr_pct", "%"),
    ("ki67_pct", "%"),
    ("pdl1_tps_pct", "%"),
    ("pdl1_cps", None),
    ("gleason_primary", None),
    ("gleason_secondary", None),
    ("isup_group", None),
)
_CODED = ("grade", "margin_status", "mmr", "msi")


def read_reports(path: Path) -> list[dict[str, Any]]:
    """The reports of one lab's ``reports.ndjson`` (one JSON object a line)."""
    with path.open("rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def measurement_rows(
    extraction: dict[str, Any], *, local_id: str, report_id: str, date: dt.date | None
) -> list[dict[str, Any]]:
    """Staged measurement rows of one extraction (empty when no cancer)."""
    if not extraction.get("cancer"):
        return []
    condition_key = f"nlp:{report_id}:condition"
    rows: list[dict[str, Any]] = []

    def add(code: str, number: float | None, text: str | None, unit: str | None = None,
            modifier: bool = True) -> None:  # fmt: skip
        rows.append(
            {
                "local_patient_id": local_id,
                "record_key": f"nlp:{report_id}:{code}",
                "measurement_concept_id": 0,
                "measurement_date": date,
                "measurement_type_concept_id": EHR,
                "value_as_number": number,
                "measurement_source_value": code,
                "value_source_value": text,
                "unit_source_value": unit,
                "meas_event_field_concept_id": CANCER_MODIFIER_FIELD if modifier else None,
                "event_record_key": condition_key,
            }
        )

    prefix = extraction.get("prefix") or ""
    for axis in ("T", "N", "M"):
        value = extraction.get(axis)
        if value is not None:
            add(f"{axis}{value}", None, f"{prefix}{axis}{value}")
    for key, unit in _NUMERIC:
        value = extraction.get(key)
        if value is not None:
            add(key, float(value), str(value), unit)
    for key in _CODED:
        value = extraction.get(key)
        if value is not None:
            add(key, None, str(value))
    her2 = extraction.get("her2")
    if isinstance(her2, dict):
        for part in ("ihc", "ish"):
            if her2.get(part) is not None:
                add(f"her2_{part}", None, str(her2[part]))
    for gene in GENE_KEYS:
        value = extraction.get(gene)
        if isinstance(value, dict) and value.get("status"):
            text = value["status"] + (f" {value['variant']}" if value.get("variant") else "")
            add(gene, None, text)
    return rows


def _render(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items() if v is not None)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).lower() if isinstance(value, bool) else str(value)


def note_nlp_rows(
    extraction: dict[str, Any],
    *,
    local_id: str,
    report_id: str,
    text: str,
    nlp_date: dt.date | None = None,
) -> list[dict[str, Any]]:
    """NOTE_NLP rows of one report: one per non-null extracted key, from its ``evidence``.

    ``offset`` is the start of the span in the note text (OMOP keeps it as text),
    ``snippet`` and ``lexical_variant`` its text, ``term_modifiers`` ``key=…;section=…;value=…``.
    """
    evidence = extraction.get("evidence") or {}
    if not evidence:
        return []
    sections = split_sections(text)
    day = nlp_date or dt.date.today()
    rows: list[dict[str, Any]] = []
    for key in SCHEMA_KEYS:
        span = evidence.get(key)
        if span is None or extraction.get(key) is None:
            continue
        start = int(span["start"])
        modifiers = (
            f"key={key};section={section_at(sections, start)};value={_render(extraction[key])}"
        )
        rows.append(
            {
                "local_patient_id": local_id,
                "record_key": f"nlp:{report_id}:{key}",
                "section_concept_id": 0,
                "snippet": span["text"],
                "offset": str(start),
                "lexical_variant": span["text"],
                "note_nlp_concept_id": 0,
                "note_nlp_source_concept_id": 0,
                "nlp_system": NLP_SYSTEM,
                "nlp_date": day,
                "nlp_datetime": None,
                "term_exists": "Y",
                "term_temporal": "present",
                "term_modifiers": modifiers,
                "note_record_key": report_id,
            }
        )
    return rows


def _condition_row(
    extraction: dict[str, Any], *, local_id: str, report_id: str, date: dt.date | None
) -> dict[str, Any] | None:
    if not extraction.get("cancer"):
        return None
    topography = extraction.get("topography_icdo3")
    morphology = extraction.get("morphology_icdo3")
    icd10 = None
    if topography and morphology:
        try:
            icd10 = convert_icdo3_to_icd10(topography, morphology)
        except Exception:  # a code the vocabulary refuses: keep the ICD-O-3 only
            icd10 = None
    status = "-".join(x for x in (morphology, topography) if x)
    return {
        "local_patient_id": local_id,
        "record_key": f"nlp:{report_id}:condition",
        "condition_concept_id": 0,
        "condition_start_date": date,
        "condition_type_concept_id": EHR,
        "condition_source_value": icd10 or morphology,
        "condition_status_source_value": status or None,
    }


def _identity(reports: Sequence[dict[str, Any]], source: str) -> pa.Table:
    seen: dict[str, dict[str, Any]] = {}
    for r in reports:
        local = str(r.get("local_patient_id") or "")
        if not local or local in seen:
            continue
        names = r.get("first_names")
        seen[local] = {
            "record_id": f"{source}:{local}",
            "source": source,
            "source_kind": "lab",
            "local_id": local,
            "nir": r.get("nir"),
            "last_name": r.get("family_name") or r.get("last_name"),
            "birth_name": r.get("birth_name"),
            "first_names": " ".join(names) if isinstance(names, list) else names,
            "sex": r.get("sex"),
            "birth_date": r.get("birth_date"),
            "birth_place_code": r.get("birth_place_code"),
            "postcode": r.get("postcode"),
            "address_line": r.get("address_line"),
            "commune_code": r.get("commune_code"),
        }
    return pa.Table.from_pylist(list(seen.values()))


def processing_date(settings: Settings, path: Path, *, today: dt.date | None = None) -> dt.date:
    """The NOTE_NLP ``nlp_date`` of one lab file: the day this exact content was first processed.

    Kept per source in ``staging/nlp_dates/<source>.json`` (content hash → ISO date), so
    re-staging unchanged reports on another day writes the same rows and the load skips them.
    """
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    record = staging_root(settings) / "nlp_dates" / f"{path.parent.name}.json"
    known: dict[str, str] = orjson.loads(record.read_bytes()) if record.exists() else {}
    if digest not in known:
        known[digest] = (today or dt.date.today()).isoformat()
        record.parent.mkdir(parents=True, exist_ok=True)
        record.write_bytes(orjson.dumps(known, option=orjson.OPT_SORT_KEYS))
    return dt.date.fromisoformat(known[digest])


def stage_pathology_lab(
    path: Path,
    *,
    settings: Settings,
    processes: int = 2,
    reports: list[dict[str, Any]] | None = None,
    extractions: list[dict[str, Any]] | None = None,
) -> tuple[dict[str, int], list[dict[str, Any]]]:
    """Stage one lab's ``reports.ndjson``; returns the staged counts and the extractions.

    ``reports`` and ``extractions`` may be given when already read and extracted (the step
    extracts every lab in one process pool).
    """
    source = path.parent.name
    if reports is None:
        reports = [r for r in read_reports(path) if isinstance(r.get("text"), str)]
    if extractions is None:
        extractions = extract_reports([r["text"] for r in reports], processes=processes)
    write_identity(settings, source, _identity(reports, source))
    nlp_date = processing_date(settings, path)
    notes: list[dict[str, Any]] = []
    measurements: list[dict[str, Any]] = []
    nlp_rows: list[dict[str, Any]] = []
    conditions: list[dict[str, Any]] = []
    out: list[dict[str, Any]] = []
    for report, extraction in zip(reports, extractions, strict=True):
        local = str(report.get("local_patient_id") or "")
        rid = str(report.get("report_id"))
        date = _date(report.get("collected_date")) or _date(report.get("received_date"))
        notes.append(
            {
                "local_patient_id": local,
                "record_key": rid,
                "note_date": date,
                "note_type_concept_id": EHR,
                "note_class_concept_id": 0,
                "note_title": f"Compte rendu anatomopathologique {rid}",
                "note_text": report["text"],
                "encoding_concept_id": 0,
                "language_concept_id": 0,
                "note_source_value": "pathology",
            }
        )
        measurements += measurement_rows(extraction, local_id=local, report_id=rid, date=date)
        nlp_rows += note_nlp_rows(
            extraction, local_id=local, report_id=rid, text=report["text"], nlp_date=nlp_date
        )
        condition = _condition_row(extraction, local_id=local, report_id=rid, date=date)
        if condition is not None:
            conditions.append(condition)
        out.append(
            {
                "report_id": rid,
                "lab_id": source,
                **{k: extraction[k] for k in SCHEMA_KEYS},
                "evidence": extraction.get("evidence") or {},
            }
        )
    tables = {"note": pa.Table.from_pylist(notes)}
    if nlp_rows:
        tables["note_nlp"] = pa.Table.from_pylist(nlp_rows, schema=staged_schema("note_nlp"))
    if measurements:
        tables["measurement"] = pa.Table.from_pylist(measurements)
    if conditions:
        tables["condition_occurrence"] = pa.Table.from_pylist(conditions)
    counts = write_staged(settings, source, tables)
    return counts, out
