"""One call that gathers what a page or a report shows about a cohort (JSON-able values)."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import pyarrow as pa

from oncobase.cohorts.build import attrition_table, read_build_record, read_store_tables
from oncobase.cohorts.characterise import (
    build_table1,
    estimate_survival_by,
    member_features_expr,
    summarise_sequences,
    summarise_time_to_treatment,
    treatment_sequences_expr,
)
from oncobase.cohorts.compile import compile_cohort
from oncobase.cohorts.completeness import compute_completeness
from oncobase.cohorts.library import load_cohort
from oncobase.cohorts.spec import CohortDefinition
from oncobase.store import Backend


def find_closing_date(backend: Backend) -> dt.date:
    """The date vital status is known at: the latest death or diagnosis date in the store."""
    value = backend.scalar(
        "SELECT max(d) FROM (SELECT max(death_date) AS d FROM death UNION ALL "
        "SELECT max(condition_start_date) FROM condition_occurrence) AS t"
    )
    return value if isinstance(value, dt.date) else dt.date.today()


def _plain(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _rows(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: _plain(v) for k, v in row.items()} for row in table.to_pylist()]


def cohort_summary(backend: Backend, name: str | Path | CohortDefinition) -> dict[str, Any]:
    """Definition, build record, attrition, Table 1, time to treatment, sequences, survival
    by stage and by first treatment, and completeness of one cohort, computed on the store."""
    definition = name if isinstance(name, CohortDefinition) else load_cohort(name)
    tables = read_store_tables(backend)
    compiled = compile_cohort(tables, definition)
    attrition = attrition_table(definition, compiled.attrition.to_pyarrow().to_pylist()[0])
    features: pa.Table = member_features_expr(
        tables, compiled.members, closing_date=find_closing_date(backend)
    ).to_pyarrow()
    sequences: list[dict[str, Any]] = []
    if "episode" in tables:
        sequences = summarise_sequences(
            treatment_sequences_expr(tables, compiled.members).to_pyarrow()
        )
    completeness = compute_completeness(tables, definition, compiled.members)
    return {
        "definition": definition.model_dump(mode="json"),
        "definition_hash": definition.content_hash(),
        "build": (read_build_record(backend, definition.name) or {}).get("build"),
        "members": features.num_rows,
        "attrition": _rows(attrition),
        "table1": [{k: _plain(v) for k, v in r.items()} for r in build_table1(features)],
        "time_to_treatment": summarise_time_to_treatment(features),
        "treatment_sequences": sequences,
        "survival_by_stage": estimate_survival_by(features, "stage"),
        "survival_by_treatment": estimate_survival_by(features, "first_treatment"),
        "completeness": _rows(completeness.by_area),
        "completeness_overlaps": _rows(completeness.overlaps),
        "completeness_estimates": _rows(completeness.estimates),
    }
