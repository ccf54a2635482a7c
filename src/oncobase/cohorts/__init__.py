"""Exhaustive national cohorts: definitions as data, a compiler to Ibis, the built-in cohorts
of poor-prognosis cancers, characterisation and completeness (capture-recapture)."""

from __future__ import annotations

from oncobase.cohorts.build import (
    CohortBuild,
    CohortResult,
    build_cohort,
    read_build_record,
    read_store_tables,
    run_cohort,
)
from oncobase.cohorts.capture import CaptureEstimate, estimate_capture_recapture
from oncobase.cohorts.characterise import build_table1
from oncobase.cohorts.compile import CompiledCohort, compile_cohort
from oncobase.cohorts.completeness import CompletenessReport, compute_completeness
from oncobase.cohorts.errors import CohortError
from oncobase.cohorts.library import list_cohorts, load_cohort, parse_cohort_yaml
from oncobase.cohorts.spec import CohortDefinition, build_json_schema
from oncobase.cohorts.summary import cohort_summary

__all__ = [
    "CaptureEstimate",
    "CohortBuild",
    "CohortDefinition",
    "CohortError",
    "CohortResult",
    "CompiledCohort",
    "CompletenessReport",
    "build_cohort",
    "build_json_schema",
    "build_table1",
    "cohort_summary",
    "compile_cohort",
    "compute_completeness",
    "estimate_capture_recapture",
    "list_cohorts",
    "load_cohort",
    "parse_cohort_yaml",
    "read_build_record",
    "read_store_tables",
    "run_cohort",
]
