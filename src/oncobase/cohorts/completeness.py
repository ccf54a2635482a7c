"""Completeness of a cohort: which sources found each case, their overlaps by département and
year, and capture-recapture estimates of the true number of cases.

A source "found" a member when it sent a condition row matching the cohort's entry code sets
within a year of the entry date (``ingest__record_keys`` says which source sent each row; the
source id prefix gives its kind: HOSP → hospital, LAB → pathology, REG_ → registry). The death
file carries no diagnosis: members with a death record are counted (``deaths``) but the death
file is not a case-finding source for the estimate.

The national estimate: the hospital and pathology feeds cover the country, the registries a
few départements. With two sources only, capture-recapture cannot see their dependence (the
two feeds share the care pathway: a patient treated outside the participating hospitals is
also less often seen by a participating lab, so the independence model underestimates). The
estimate is therefore stratified (``capture.estimate_stratified``): in the registry area the
registry is a third, independent source that measures the hospital-pathology dependence; the
rest of the country shares that dependence, with its own capture rates.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.cohorts.capture import (
    CaptureStratum,
    count_histories,
    estimate_capture_recapture,
    estimate_stratified,
)
from oncobase.cohorts.codes import codeset_match, diagnosis_columns
from oncobase.cohorts.spec import CohortDefinition

FINDING_SOURCES = ("hospital", "pathology", "registry")
SOURCE_PREFIXES = (("HOSP", "hospital"), ("LAB", "pathology"), ("REG_", "registry"),
                   ("INSEE", "deaths"))  # fmt: skip
MATCH_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class CompletenessReport:
    """Source counts and overlaps by area and year, and capture-recapture estimates."""

    cohort: str
    by_area: pa.Table  # departement, year, cases, hospital, pathology, registry, deaths
    overlaps: pa.Table  # departement, year, history ("hospital+registry"), cases
    estimates: pa.Table  # scope, sources, observed, estimate, ci_lower, ci_upper, model, …


def _kind(source: ir.StringValue) -> ir.StringValue:
    return ibis.cases(
        *[(source.startswith(prefix), ibis.literal(kind)) for prefix, kind in SOURCE_PREFIXES],
        else_=ibis.literal("other"),
    )


def member_sources_expr(
    tables: Mapping[str, ir.Table], definition: CohortDefinition, members: ir.Table
) -> ir.Table:
    """One row per member: person_id, departement, year and a 0/1 column per source kind."""
    keys = tables["ingest__record_keys"]
    dx = diagnosis_columns(tables["condition_occurrence"])
    matched = dx.filter(
        functools.reduce(operator.or_, [codeset_match(dx, c) for c in definition.entry.any_of])
    )
    cond_keys = keys.filter(keys.table_name == "condition_occurrence").select(
        _id=keys.id, kind=_kind(keys.source)
    )
    m = members.select(
        _p=members.person_id, _entry=members.cohort_start_date, departement=members.departement,
        year=members.cohort_start_date.year().cast("int64"),
    )  # fmt: skip
    rows = matched.join(cond_keys, matched.condition_occurrence_id == cond_keys._id).join(
        m, matched.person_id == m._p
    )
    rows = rows.filter(rows.date.delta(rows._entry, unit="day").abs() <= MATCH_DAYS)
    found = rows.select(person_id=rows._p, kind=rows.kind)
    flags = found.group_by("person_id").aggregate(
        **{kind: (found.kind == kind).cast("int64").max() for kind in FINDING_SOURCES}
    )
    joined = m.left_join(flags, m._p == flags.person_id)
    death = tables["death"]
    dead = death.select(_d=death.person_id).distinct()
    joined = joined.left_join(dead, joined._p == dead._d)
    return joined.select(
        person_id=joined._p,
        departement=joined.departement,
        year=joined.year,
        **{k: joined[k].fill_null(0) for k in FINDING_SOURCES},
        deaths=joined._d.notnull().cast("int64"),
    )


def _history_labels(flags: np.ndarray) -> np.ndarray:
    labels = np.full(len(flags), "", dtype=object)
    for i, kind in enumerate(FINDING_SOURCES):
        part = np.where(flags[:, i] == 1, kind, "")
        labels = np.where(
            (labels != "") & (part != ""),
            labels + "+" + part,
            np.where(part != "", labels + part, labels),
        )
    return np.where(labels == "", "none", labels)


def estimate_from_flags(
    flags: np.ndarray, sources: tuple[str, ...], *, scope: str
) -> dict[str, Any] | None:
    """Capture-recapture over the given columns of a members × sources 0/1 matrix."""
    seen = flags.any(axis=1)
    if seen.sum() == 0 or len(sources) < 2:
        return None
    counts = count_histories(flags[seen].astype(bool))
    result = estimate_capture_recapture(counts, sources, min_df=1 if len(sources) > 2 else 0)
    return {"scope": scope, **result.as_dict()}


def estimate_national(
    flags: np.ndarray, sources: tuple[str, ...], *, in_area: np.ndarray
) -> dict[str, Any] | None:
    """The national estimate over the national ``sources`` (columns of ``flags`` named by
    FINDING_SOURCES), stratified on ``in_area`` (members living where a registry works) when
    the registry found anyone there; otherwise the plain estimate over ``sources``."""
    cols = [FINDING_SOURCES.index(k) for k in sources]
    registry = FINDING_SOURCES.index("registry")
    if len(sources) < 2:
        return None
    if not (in_area.any() and flags[in_area, registry].any()):
        return estimate_from_flags(flags[:, cols], sources, scope="national")
    strata: list[CaptureStratum] = []
    area = flags[in_area][:, [*cols, registry]].astype(bool)
    seen = area.any(axis=1)
    strata.append(
        CaptureStratum(
            name="registry_area", sources=(*sources, "registry"), counts=count_histories(area[seen])
        )
    )
    rest = flags[~in_area][:, cols].astype(bool)
    seen_rest = rest.any(axis=1)
    if seen_rest.any():
        strata.append(
            CaptureStratum(name="rest", sources=sources, counts=count_histories(rest[seen_rest]))
        )
    result = estimate_stratified(strata)
    return {
        "scope": "national",
        **result.as_dict(),
        "strata": "+".join(s.name for s in strata),
    }


def summarise_completeness(
    cohort: str, sources: pa.Table, *, registry_departements: tuple[str, ...] = ()
) -> CompletenessReport:
    """Counts, overlaps and estimates from :func:`member_sources_expr`'s rows."""
    keys = ["departement", "year"]
    by_area = (
        sources.group_by(keys)
        .aggregate([("person_id", "count"), *[(k, "sum") for k in (*FINDING_SOURCES, "deaths")]])
        .rename_columns([*keys, "cases", *FINDING_SOURCES, "deaths"])
    )
    by_area = by_area.sort_by([(k, "ascending") for k in keys])
    flags = (
        np.column_stack([sources.column(k).to_numpy(zero_copy_only=False) for k in FINDING_SOURCES])
        if sources.num_rows
        else np.zeros((0, len(FINDING_SOURCES)), dtype=np.int64)
    )
    history = _history_labels(flags) if sources.num_rows else np.array([], dtype=object)
    with_history = sources.select(keys).append_column("history", pa.array(history, pa.string()))
    overlaps = (
        with_history.group_by([*keys, "history"])
        .aggregate([("history", "count")])
        .rename_columns([*keys, "history", "cases"])
        .sort_by([(k, "ascending") for k in (*keys, "history")])
    )
    estimates: list[dict[str, Any]] = []
    national_sources = (
        tuple(k for i, k in enumerate(FINDING_SOURCES) if k != "registry" and flags[:, i].any())
        if sources.num_rows
        else ()
    )
    in_area = np.zeros(sources.num_rows, dtype=bool)
    if registry_departements and sources.num_rows:
        dept = sources.column("departement").to_numpy(zero_copy_only=False)
        in_area = np.isin(dept, list(registry_departements))
    national = estimate_national(flags, national_sources, in_area=in_area)
    if national is not None:
        estimates.append(national)
    if in_area.any():
        area = estimate_from_flags(flags[in_area], FINDING_SOURCES, scope="registry_area")
        if area is not None:
            area["registry_count"] = int(flags[in_area, 2].sum())
            estimates.append(area)
    names = list(dict.fromkeys(k for e in estimates for k in e))  # every row's keys
    table = (
        pa.Table.from_pylist(
            [{**dict.fromkeys(names), **e, "sources": "+".join(e["sources"])} for e in estimates]
        )
        if estimates
        else pa.table({"scope": pa.array([], pa.string())})
    )
    return CompletenessReport(cohort=cohort, by_area=by_area, overlaps=overlaps, estimates=table)


def registry_departements(tables: Mapping[str, ir.Table], sources: pa.Table) -> tuple[str, ...]:
    """Départements where a registry sent cases (its covered area, as seen in the data)."""
    if sources.num_rows == 0:
        return ()
    mask = pc.greater(sources.column("registry"), 0)
    values = pc.unique(sources.filter(mask).column("departement")).to_pylist()
    return tuple(sorted(str(v) for v in values if v is not None))


def compute_completeness(
    tables: Mapping[str, ir.Table], definition: CohortDefinition, members: ir.Table
) -> CompletenessReport:
    """Completeness of one cohort on the engine of ``tables``."""
    if "ingest__record_keys" not in tables:
        empty = pa.table({"departement": pa.array([], pa.string())})
        return CompletenessReport(
            cohort=definition.name, by_area=empty, overlaps=empty, estimates=empty
        )
    rows: pa.Table = member_sources_expr(tables, definition, members).to_pyarrow()
    return summarise_completeness(
        definition.name, rows, registry_departements=registry_departements(tables, rows)
    )
