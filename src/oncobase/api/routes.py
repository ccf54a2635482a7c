"""The JSON API under ``/api/v1`` (open aggregates, and person-level reads for their roles)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import PlainTextResponse

from oncobase.api import quality as quality_view_mod
from oncobase.api import records, statistics
from oncobase.api.accounts import (
    ADMIN_ROLES,
    CLINICAL_ROLES,
    COHORT_ROLES,
    QUALITY_ROLES,
    Principal,
    Role,
)
from oncobase.api.schemas import (
    AuditEntryPublic,
    AuditVerificationPublic,
    CohortsPublic,
    CountTablePublic,
    DimensionsPublic,
    EventPublic,
    PrincipalPublic,
    QualityPublic,
    RatePublic,
    SurvivalPublic,
    TimelinePublic,
)
from oncobase.api.security import context_of, current_principal, require_roles
from oncobase.store.audit import search_audit, verify_audit

router = APIRouter(prefix="/api/v1")

Clinician = Annotated[Principal, Depends(require_roles(CLINICAL_ROLES))]
Patient = Annotated[Principal, Depends(require_roles({Role.PATIENT}))]
Steward = Annotated[Principal, Depends(require_roles(QUALITY_ROLES))]
Admin = Annotated[Principal, Depends(require_roles(ADMIN_ROLES))]
CohortReader = Annotated[Principal, Depends(require_roles(COHORT_ROLES))]
Many = Annotated[list[str], Query()]


def explorer_query(
    *,
    site: Many = [],  # noqa: B006  (FastAPI reads defaults, never mutates them)
    sex: str | None = None,
    age_group: Many = [],  # noqa: B006
    year_from: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    year_to: Annotated[int | None, Query(ge=1900, le=2100)] = None,
    departement: Many = [],  # noqa: B006
    region: str | None = None,
    group_by: str = "site_group",
    series: str | None = None,
    standard: str = "esp2013",
    duration: str = statistics.DEFAULT_DURATION,
) -> statistics.ExplorerQuery:
    try:
        return statistics.ExplorerQuery(
            sites=tuple(site),
            sex=sex,
            age_groups=tuple(age_group),
            year_from=year_from,
            year_to=year_to,
            departements=tuple(departement),
            region=region,
            group_by=group_by,
            series=series,
            standard=standard,
            duration=duration,
        )
    except statistics.FilterError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None


Explorer = Annotated[statistics.ExplorerQuery, Depends(explorer_query)]


@router.get("/open/dimensions", tags=["open statistics"])
def open_dimensions() -> DimensionsPublic:
    """The values every filter of the open statistics accepts."""
    depts = statistics.departements()
    return DimensionsPublic(
        site_groups=statistics.site_labels(),
        sexes=list(statistics.SEXES),
        age_groups=list(statistics.AGE_GROUPS),
        regions=statistics.regions(),
        departements={code: name for code, (name, _, _) in depts.items()},
        standards=list(statistics.STANDARD_CHOICES),
        measures=list(statistics.MEASURES),
        group_by=list(statistics.DIMENSIONS),
    )


def _open_counts(
    request: Request, q: statistics.ExplorerQuery, format: str
) -> CountTablePublic | PlainTextResponse:
    ctx = context_of(request)
    notes: list[str] = []
    rates: list[statistics.Rate] = []
    with ctx.store.backend() as backend:
        table = statistics.measure_table(backend, q)
        try:
            population = statistics.load_population(ctx.settings.resolved_population_csv)
        except statistics.PopulationError as exc:
            population = None
            notes.append(str(exc))
        if population is not None:
            rates, rate_note = statistics.measure_rates(backend, q, population)
            table = replace(table, rates=rates)  # the cached table stays as it was
            if rate_note:
                notes.append(rate_note)
        elif not notes:
            notes.append("no population denominators configured: counts only")
    if table.note:
        notes.insert(0, table.note)
    if format == "csv":
        return PlainTextResponse(table.to_csv(), media_type="text/csv")
    return CountTablePublic(
        title=table.title,
        row_dimension=table.row_dimension,
        column_dimension=table.column_dimension,
        rows=table.rows,
        columns=table.columns,
        cells=table.cells,
        row_totals=table.row_totals,
        column_totals=table.column_totals,
        total=table.total,
        suppressed=table.suppressed,
        min_cell=table.min_cell,
        standardised_rates={r.label: r.asr for r in rates if r.asr is not None},
        rates=[RatePublic(**r.__dict__) for r in rates],
        standard=q.standard if rates else None,
        duration=q.duration if q.measure == "prevalence" else None,
        index_dates=table.index_dates,
        note="; ".join(notes) or None,
    )


_COUNT_RESPONSES: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}}}}


@router.get(
    "/open/incidence",
    tags=["open statistics"],
    response_model=CountTablePublic,
    responses=_COUNT_RESPONSES,
)
def open_incidence(
    request: Request, q: Explorer, format: str = "json"
) -> CountTablePublic | PlainTextResponse:
    """Incident cases by one dimension (× a second, ``series``), small cells suppressed.

    Counts under 11 are suppressed, and enough others that no suppressed count can be
    recovered from the totals and margins. Rates per 100,000 person-years and age-standardised
    rates (``standard``) come with a population table. No sign-in needed.
    """
    return _open_counts(request, replace(q, measure="incidence"), format)


@router.get(
    "/open/mortality",
    tags=["open statistics"],
    response_model=CountTablePublic,
    responses=_COUNT_RESPONSES,
)
def open_mortality(
    request: Request, q: Explorer, format: str = "json"
) -> CountTablePublic | PlainTextResponse:
    """Deaths among registered cases (any cause: the death records carry no cause), by year
    of death, age at death, sex, site of the registered cancer and département.

    A person registered for two sites counts under each. The year in progress at the store's
    closing date is left out. Same disclosure control and rates as incidence.
    """
    return _open_counts(request, replace(q, measure="mortality"), format)


@router.get(
    "/open/prevalence",
    tags=["open statistics"],
    response_model=CountTablePublic,
    responses=_COUNT_RESPONSES,
)
def open_prevalence(
    request: Request, q: Explorer, format: str = "json"
) -> CountTablePublic | PlainTextResponse:
    """Persons alive on 31 December of the index year and diagnosed within ``duration`` years
    (1, 5, 10) before it, or ever (``complete``, limited to the registered years).

    The index year is ``year_to`` (default: the latest complete year); grouped by year, every
    year from ``year_from`` to ``year_to``. Age is the age at the index date. Same disclosure
    control as incidence; rates are per 100,000 persons of the index year.
    """
    return _open_counts(request, replace(q, measure="prevalence"), format)


@router.get("/open/survival", tags=["open statistics"])
def open_survival(request: Request, q: Explorer) -> list[SurvivalPublic]:
    """Observed survival at 1 and 5 years by site and sex; groups under 11 cases withheld."""
    with context_of(request).store.backend() as backend:
        rows = statistics.survival_rows(backend, q)
    return [SurvivalPublic(**r.__dict__) for r in rows]


@router.get("/me", tags=["accounts"])
def me(request: Request) -> PrincipalPublic:
    """The signed-in user (401 when nobody)."""
    principal = current_principal(request)
    if principal is None:
        raise HTTPException(status_code=401, detail="sign in or send a bearer token")
    return PrincipalPublic(username=principal.username, role=principal.role.value)


def _timeline(request: Request, principal: Principal, person_id: int) -> TimelinePublic:
    ctx = context_of(request)
    with ctx.store.backend() as backend:
        summary = records.person_timeline(backend, person_id)
    ctx.audit(
        principal,
        "record.read",
        target=f"person:{person_id}",
        detail={"via": "api", "found": summary is not None},
    )
    if summary is None:
        raise HTTPException(status_code=404, detail="no such person")
    return TimelinePublic(
        person_id=summary.person_id,
        year_of_birth=summary.year_of_birth,
        sex=summary.sex,
        events=[EventPublic(**e.__dict__) for e in summary.events],
    )


@router.get("/patients/{person_id}/timeline", tags=["patient records"])
def patient_timeline(request: Request, person_id: int, principal: Clinician) -> TimelinePublic:
    """One person's record (clinicians); every read is written to the audit log."""
    return _timeline(request, principal, person_id)


@router.get("/me/record", tags=["patient records"])
def my_record(request: Request, principal: Patient) -> TimelinePublic:
    """The signed-in patient's own record."""
    if principal.person_id is None:
        raise HTTPException(status_code=404, detail="no record is linked to this account")
    return _timeline(request, principal, principal.person_id)


@router.get("/quality", tags=["data quality"])
def quality(request: Request, principal: Steward) -> QualityPublic:
    """Loads, table counts and quarantine reasons (never the rejected content)."""
    with context_of(request).store.backend() as backend:
        view = quality_view_mod.quality_view(backend)
    return QualityPublic(
        counts=view.counts,
        quarantine_reasons=view.reasons,
        loads=[{k: str(v) for k, v in row.items()} for row in view.loads],
        checks=view.checks,
        checks_note=view.checks_note,
    )


@router.get("/cohorts", tags=["cohorts"])
def cohorts(principal: CohortReader) -> CohortsPublic:
    """The cohort definitions known to the platform."""
    api = quality_view_mod.cohorts_api()
    if api is None:
        return CohortsPublic(available=False, cohorts=[], note="not available yet")
    return CohortsPublic(available=True, cohorts=[_jsonable(c) for c in api["list_cohorts"]()])


@router.get("/audit", tags=["audit"])
def audit_search(
    request: Request,
    principal: Admin,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: Annotated[int, Query(ge=1, le=5000)] = 200,
) -> list[AuditEntryPublic]:
    """Search the audit log, newest first (admins)."""
    ctx = context_of(request)
    entries = search_audit(ctx.operational, actor=actor, action=action, target=target, limit=limit)
    ctx.audit(principal, "audit.search", detail={"actor": actor, "action": action})
    return [
        AuditEntryPublic(
            seq=e.seq,
            at=e.at,
            actor=e.actor,
            role=e.role,
            action=e.action,
            target=e.target,
            detail=e.detail,
        )
        for e in entries
    ]


@router.get("/audit/verify", tags=["audit"])
def audit_verify(request: Request, principal: Admin) -> AuditVerificationPublic:
    """Walk the hash chain of the audit log."""
    ctx = context_of(request)
    result = verify_audit(ctx.operational, ctx.audit_key)
    return AuditVerificationPublic(ok=result.ok, entries=result.entries, problem=result.problem)


def _jsonable(value: Any) -> Any:
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    for attr in ("model_dump", "to_dict"):
        method = getattr(value, attr, None)
        if callable(method):
            return _jsonable(method())
    name = getattr(value, "name", None)
    return name if isinstance(name, str) else str(value)
