"""One person's record as a timeline, from the OMOP tables of the clinical store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from oncobase.store import Backend

# kind, table, date column, concept column, source-value column, extra text column
_SOURCES: tuple[tuple[str, str, str, str, str, str | None], ...] = (
    ("diagnosis", "condition_occurrence", "condition_start_date", "condition_concept_id",
     "condition_source_value", None),
    ("stage", "measurement", "measurement_date", "measurement_concept_id",
     "measurement_source_value", "value_source_value"),
    ("treatment", "drug_exposure", "drug_exposure_start_date", "drug_concept_id",
     "drug_source_value", None),
    ("procedure", "procedure_occurrence", "procedure_date", "procedure_concept_id",
     "procedure_source_value", None),
    ("episode", "episode", "episode_start_date", "episode_object_concept_id",
     "episode_source_value", None),
    ("report", "note", "note_date", "note_type_concept_id", "note_title", "note_text"),
    ("death", "death", "death_date", "cause_concept_id", "cause_source_value", None),
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TimelineEvent:
    date: dt.date | None
    kind: str
    code: str
    label: str
    detail: str


@dataclass(frozen=True, kw_only=True)
class PersonSummary:
    person_id: int
    year_of_birth: int | None
    sex: str
    events: list[TimelineEvent]


def person_exists(backend: Backend, person_id: int) -> bool:
    return backend.scalar("SELECT count(*) FROM person WHERE person_id = $1", (person_id,)) == 1


def person_timeline(backend: Backend, person_id: int) -> PersonSummary | None:
    """Diagnoses, stages, treatments, procedures, episodes, reports and death, by date."""
    person = backend.query_arrow(
        "SELECT year_of_birth, gender_concept_id FROM person WHERE person_id = $1", (person_id,)
    ).to_pylist()
    if not person:
        return None
    has_concepts = backend.table_exists("concept")
    events: list[TimelineEvent] = []
    for kind, table, date_col, concept_col, source_col, extra_col in _SOURCES:
        label_sql = "c.concept_name" if has_concepts else "NULL"
        join = f"LEFT JOIN concept c ON c.concept_id = t.{concept_col}" if has_concepts else ""
        extra = f"t.{extra_col}" if extra_col else "NULL"
        rows = backend.query_arrow(
            f"SELECT t.{date_col} AS d, t.{source_col} AS code, {label_sql} AS label, "
            f"{extra} AS extra FROM {table} t {join} WHERE t.person_id = $1",
            (person_id,),
        ).to_pylist()
        for row in rows:
            events.append(
                TimelineEvent(
                    date=row["d"],
                    kind=kind,
                    code=str(row["code"] or ""),
                    label=str(row["label"] or ""),
                    detail=str(row["extra"] or "")[:2000],
                )
            )
    events.sort(key=lambda e: (e.date or dt.date.min, e.kind))
    gender = person[0]["gender_concept_id"]
    return PersonSummary(
        person_id=person_id,
        year_of_birth=person[0]["year_of_birth"],
        sex={8507: "M", 8532: "F"}.get(int(gender or 0), "?"),
        events=events,
    )


def sample_person_ids(backend: Backend, *, limit: int = 20) -> list[int]:
    """A few persons with a cancer diagnosis (for the clinician's search page and the demo)."""
    if not backend.table_exists("condition_occurrence"):
        return []
    data = backend.query_arrow(
        f"SELECT DISTINCT person_id FROM condition_occurrence ORDER BY person_id LIMIT {int(limit)}"
    )
    return [int(v) for v in data.column("person_id").to_pylist()]
