"""The staging area between the readers and the OMOP load: the contract every reader keeps.

Readers (FHIR, registry CSV, INSEE deaths …) never write the clinical store. They write, for
one source (a hospital, a registry, the death file), under ``<home>/staging/``:

* ``identity/<source>.parquet`` — the **identity part** (direct identifiers), read only by
  the linkage step, which moves it into the identity vault and then deletes the file. Columns:
  ``IDENTITY_SCHEMA`` (the linkage's standalone input columns plus ``source_kind`` and
  ``local_id``).
* ``clinical/<source>/<omop_table>.parquet`` — the **clinical part**, shaped like the OMOP
  table but keyed by the source: ``person_id`` is replaced by ``local_patient_id`` (the
  source's own patient id), the table's own id by ``record_key`` (the source's id of the
  record, unique within source and table, e.g. ``"Condition/abc"``), and references to other
  staged rows by ``<name>_record_key`` columns (see ``REFERENCE_COLUMNS``). Every other column
  has its OMOP name and type; only birth year and month reach ``person``.
* ``clinical/<source>/_load.json`` — what was read: files with their SHA-256, counts (read,
  accepted, quarantined by reason) and the load id.

The load step (:mod:`oncobase.ingest.load`) resolves ``(source, local_patient_id)`` to the
person index, gives each ``(table, source, record_key)`` a stable integer id, and replaces the
source's previous rows atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from oncobase.config import Settings
from oncobase.store import table_spec

IDENTITY_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string(), nullable=False),  # "<source>:<local_id>"
        pa.field("source", pa.string(), nullable=False),
        pa.field("source_kind", pa.string(), nullable=False),  # hospital, lab, registry, deaths
        pa.field("local_id", pa.string(), nullable=False),
        pa.field("nir", pa.string()),
        pa.field("last_name", pa.string()),  # used (usual) family name
        pa.field("birth_name", pa.string()),
        pa.field("first_names", pa.string()),  # space-separated, civil order
        pa.field("sex", pa.string()),  # "M" / "F"
        pa.field("birth_date", pa.string()),  # "YYYY-MM-DD" as the source gives it
        pa.field("birth_place_code", pa.string()),  # INSEE commune code
        pa.field("postcode", pa.string()),
        pa.field("address_line", pa.string()),
        pa.field("commune_code", pa.string()),
    ]
)

# Reference columns a staged table may carry, and the OMOP column each one fills.
REFERENCE_COLUMNS: dict[str, dict[str, tuple[str, str]]] = {
    # table: {staged column: (omop column, referenced table)}
    "visit_occurrence": {},
    "condition_occurrence": {"visit_record_key": ("visit_occurrence_id", "visit_occurrence")},
    "procedure_occurrence": {"visit_record_key": ("visit_occurrence_id", "visit_occurrence")},
    "drug_exposure": {"visit_record_key": ("visit_occurrence_id", "visit_occurrence")},
    "measurement": {
        "visit_record_key": ("visit_occurrence_id", "visit_occurrence"),
        # cancer modifiers: the diagnosis they qualify (meas_event_field_concept_id is set by
        # the loader from the referenced table)
        "event_record_key": ("measurement_event_id", "condition_occurrence"),
    },
    "observation": {"visit_record_key": ("visit_occurrence_id", "visit_occurrence")},
    "specimen": {},
    "note": {"visit_record_key": ("visit_occurrence_id", "visit_occurrence")},
    # NLP findings: each points at the note it was read in
    "note_nlp": {"note_record_key": ("note_id", "note")},
    "death": {},
    "person": {},
    "observation_period": {},
    "episode": {"parent_record_key": ("episode_parent_id", "episode")},
    "episode_event": {
        "episode_record_key": ("episode_id", "episode"),
        # event_id is resolved in the table named by event_table ("condition_occurrence" …)
        "event_record_key": ("event_id", ""),
    },
}
STAGED_TABLES = tuple(REFERENCE_COLUMNS)
KEY_COLUMNS = ("local_patient_id", "record_key")


def staging_root(settings: Settings) -> Path:
    return settings.home_path / "staging"


def identity_path(settings: Settings, source: str) -> Path:
    return staging_root(settings) / "identity" / f"{source}.parquet"


def clinical_dir(settings: Settings, source: str) -> Path:
    return staging_root(settings) / "clinical" / source


def staged_schema(table: str) -> pa.Schema:
    """The Arrow schema of a staged OMOP table (see the module docstring)."""
    spec = table_spec(table)
    fields = [pa.field("local_patient_id", pa.string(), nullable=table == "episode_event")]
    fields.append(pa.field("record_key", pa.string(), nullable=False))
    own_keys = set(spec.primary_key) | {"person_id"}
    if table == "person":
        # Privacy: only birth year and month reach the clinical store; place is the département.
        own_keys |= {"day_of_birth", "birth_datetime", "location_id", "person_source_value"}
        fields.append(pa.field("departement", pa.string()))
    references = REFERENCE_COLUMNS[table]
    replaced = {omop for omop, _ in references.values()}
    for column in spec.columns:
        if column.name in own_keys or column.name in replaced:
            continue
        fields.append(pa.field(column.name, column.arrow_type))
    for staged in references:
        fields.append(pa.field(staged, pa.string()))
    if table == "episode_event":
        fields.append(pa.field("event_table", pa.string()))
    return pa.schema(fields)


def conform_staged(table: str, data: pa.Table) -> pa.Table:
    """``data`` with every staged column of ``table`` (missing ones null), cast, in order."""
    schema = staged_schema(table)
    columns = []
    for field in schema:
        if field.name in data.column_names:
            columns.append(data.column(field.name).cast(field.type))
        else:
            columns.append(pa.nulls(data.num_rows, field.type))
    return pa.Table.from_arrays(columns, schema=schema.with_metadata(None))


def write_staged(settings: Settings, source: str, tables: dict[str, pa.Table]) -> dict[str, int]:
    """Write one source's staged clinical tables (replacing the previous ones)."""
    folder = clinical_dir(settings, source)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.parquet"):
        old.unlink()
    counts: dict[str, int] = {}
    for table, data in tables.items():
        conformed = conform_staged(table, data)
        pq.write_table(conformed, folder / f"{table}.parquet")
        counts[table] = conformed.num_rows
    return counts


def write_identity(settings: Settings, source: str, data: pa.Table) -> int:
    """Write one source's identity records for the linkage step."""
    path = identity_path(settings, source)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    conformed = pa.Table.from_arrays(
        [
            data.column(f.name).cast(f.type)
            if f.name in data.column_names
            else pa.nulls(data.num_rows, f.type)
            for f in IDENTITY_SCHEMA
        ],
        schema=IDENTITY_SCHEMA,
    )
    pq.write_table(conformed, path)
    path.chmod(0o600)
    return int(conformed.num_rows)


def write_load_summary(settings: Settings, source: str, summary: dict[str, Any]) -> Path:
    path = clinical_dir(settings, source) / "_load.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True, default=str))
    return path


def read_staged(settings: Settings, source: str) -> dict[str, pa.Table]:
    folder = clinical_dir(settings, source)
    return {p.stem: pq.read_table(p) for p in sorted(folder.glob("*.parquet"))}


def staged_sources(settings: Settings) -> list[str]:
    root = staging_root(settings) / "clinical"
    return sorted(p.name for p in root.iterdir() if p.is_dir()) if root.exists() else []
