"""Shapes of the JSON API (``XPublic`` for what leaves the service)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel


class HealthPublic(BaseModel):
    status: str


class ReadyPublic(BaseModel):
    status: str
    store: bool
    operational: bool


class RatePublic(BaseModel):
    """Rates per 100,000 of one row (person-years; persons at the index date for prevalence)."""

    label: str
    count: int
    population: float
    crude: float
    asr: float | None
    ci_lower: float | None
    ci_upper: float | None


class CountTablePublic(BaseModel):
    """Counts after disclosure control: ``null`` marks a suppressed value.

    ``title`` is the measure: ``incidence`` (incident cases), ``mortality`` (deaths of any
    cause among registered cases, by year of death) or ``prevalence`` (persons alive at each
    of ``index_dates`` and diagnosed within ``duration`` years, or ever).
    """

    title: str
    row_dimension: str
    column_dimension: str | None
    rows: list[str]
    columns: list[str]
    cells: list[list[int | None]]
    row_totals: list[int | None]
    column_totals: list[int | None]
    total: int | None
    suppressed: int
    min_cell: int
    standardised_rates: dict[str, float]
    rates: list[RatePublic] = []
    standard: str | None = None
    duration: str | None = None
    index_dates: list[str] = []
    note: str | None = None


class SurvivalPublic(BaseModel):
    site_group: str
    sex: str
    years: float
    cases: int | None
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None


class DimensionsPublic(BaseModel):
    site_groups: dict[str, str]
    sexes: list[str]
    age_groups: list[str]
    regions: dict[str, str]
    departements: dict[str, str]
    standards: list[str]
    measures: list[str]
    group_by: list[str]


class PrincipalPublic(BaseModel):
    username: str
    role: str


class EventPublic(BaseModel):
    date: dt.date | None
    kind: str
    code: str
    label: str
    detail: str


class TimelinePublic(BaseModel):
    person_id: int
    year_of_birth: int | None
    sex: str
    events: list[EventPublic]


class AuditEntryPublic(BaseModel):
    seq: int
    at: dt.datetime
    actor: str
    role: str
    action: str
    target: str
    detail: str


class AuditVerificationPublic(BaseModel):
    ok: bool
    entries: int
    problem: str | None


class QualityPublic(BaseModel):
    counts: dict[str, int]
    quarantine_reasons: dict[str, int]
    loads: list[dict[str, Any]]
    checks: dict[str, Any] | None
    checks_note: str | None


class CohortsPublic(BaseModel):
    available: bool
    cohorts: list[Any]
    note: str | None = None
