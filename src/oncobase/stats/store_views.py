"""Registry statistics from the OMOP store: Ibis aggregations, then the numpy cores.

The aggregation (:mod:`oncobase.stats.cases`) runs on the store's engine; only the small
per-group arrays (follow-up times and events) come back to Python for the survival cores.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis.expr.types as ir
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.stats.cases import incidence_counts_expr, survival_input_expr
from oncobase.stats.measures import (
    MORTALITY_SCHEMA,
    PREVALENCE_SCHEMA,
    case_deaths_expr,
    count_prevalence_cells,
    prevalence_cases_expr,
)
from oncobase.stats.survival import estimate_km

SURVIVAL_TIMES_DAYS: tuple[int, ...] = (365, 1826)  # 1 and 5 years (365.25 days a year)
MIN_CASES_FOR_SURVIVAL = 10


def compute_store_incidence(
    tables: Mapping[str, ir.Table],
    *,
    by: tuple[str, ...] = ("site_group", "sex", "age_group", "year"),
) -> pa.Table:
    """Incident cases by site group, sex, 5-year age group and year (or ``by``)."""
    result: pa.Table = incidence_counts_expr(tables, by=by).to_pyarrow()
    return result.cast(
        pa.schema(
            [
                pa.field(f.name, pa.int64() if pa.types.is_integer(f.type) else f.type)
                for f in result.schema
            ]
        )
    )


def compute_store_deaths(tables: Mapping[str, ir.Table], *, last_year: int | None) -> pa.Table:
    """Deaths among registered cases by site group, sex, age group at death, year of death and
    département, up to ``last_year`` (None: no year is complete, nothing to count). Additive
    cells; columns: :data:`~oncobase.stats.measures.MORTALITY_SCHEMA`."""
    if last_year is None:
        return MORTALITY_SCHEMA.empty_table()
    result: pa.Table = case_deaths_expr(tables, last_year=last_year).to_pyarrow()
    return result.rename_columns(MORTALITY_SCHEMA.names).cast(MORTALITY_SCHEMA)


def compute_store_prevalence(tables: Mapping[str, ir.Table], *, last_year: int | None) -> pa.Table:
    """Prevalent cases at 31 December of each year up to ``last_year`` (None: none), for every
    duration, by site group, sex, age group at the index date and département. Additive
    cells; columns: :data:`~oncobase.stats.measures.PREVALENCE_SCHEMA`."""
    if last_year is None:
        return PREVALENCE_SCHEMA.empty_table()
    cases: pa.Table = prevalence_cases_expr(tables).to_pyarrow()
    return count_prevalence_cells(cases, last_year=last_year)


def compute_store_survival(
    tables: Mapping[str, ir.Table],
    *,
    closing_date: dt.date,
    by: tuple[str, ...] = ("site_group", "sex"),
    times: tuple[int, ...] = SURVIVAL_TIMES_DAYS,
    conf_type: str = "log",
) -> pa.Table:
    """Observed (Kaplan-Meier) survival at ``times`` days for each group of incident cases.

    Groups with fewer than 10 cases are left out (no stable estimate, and small cells).
    Columns: the ``by`` columns, cases, deaths, time, estimate, std_err, ci_lower, ci_upper,
    n_at_risk.
    """
    follow_up: pa.Table = (
        survival_input_expr(tables, closing_date=closing_date)
        .select(*by, "time", "event")
        .to_pyarrow()
    )
    if follow_up.num_rows == 0:
        return _empty_survival(by)
    keys = follow_up.select(list(by))
    # One sort, then each group is a contiguous slice: no per-patient Python.
    order = pc.sort_indices(keys, sort_keys=[(k, "ascending") for k in by])
    ordered = follow_up.take(order)
    group_id = _group_ids(ordered.select(list(by)))
    bounds = np.flatnonzero(np.diff(group_id)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [ordered.num_rows]])
    time = ordered.column("time").to_numpy()
    event = ordered.column("event").to_numpy()
    pieces: list[pa.Table] = []
    for start, end in zip(starts, ends, strict=True):
        if end - start < MIN_CASES_FOR_SURVIVAL:
            continue
        curve = estimate_km(time[start:end], event[start:end], conf_type=conf_type)
        at = curve.at(np.asarray(times, dtype=np.float64))
        n = at.num_rows
        columns = {k: pa.array([ordered.column(k)[int(start)].as_py()] * n) for k in by}
        columns["cases"] = pa.array([int(end - start)] * n, pa.int64())
        columns["deaths"] = pa.array([int(event[start:end].sum())] * n, pa.int64())
        pieces.append(pa.table({**columns, **{c: at.column(c) for c in at.column_names}}))
    if not pieces:
        return _empty_survival(by)
    return pa.concat_tables(pieces)


def _group_ids(keys: pa.Table) -> np.ndarray:
    """Consecutive group numbers for rows already sorted by ``keys``."""
    changed = np.zeros(keys.num_rows, dtype=bool)
    for name in keys.column_names:
        column = keys.column(name).combine_chunks()
        if keys.num_rows > 1:
            same = pc.fill_null(pc.equal(column[1:], column[:-1]), False)
            both_null = pc.and_(pc.is_null(column[1:]), pc.is_null(column[:-1]))
            differs = pc.invert(pc.or_(same, both_null)).to_numpy(zero_copy_only=False)
            changed[1:] |= differs
    return np.cumsum(changed)


def _empty_survival(by: tuple[str, ...]) -> pa.Table:
    fields = [pa.field(k, pa.string()) for k in by] + [
        pa.field("cases", pa.int64()),
        pa.field("deaths", pa.int64()),
        pa.field("time", pa.float64()),
        pa.field("estimate", pa.float64()),
        pa.field("std_err", pa.float64()),
        pa.field("ci_lower", pa.float64()),
        pa.field("ci_upper", pa.float64()),
        pa.field("n_at_risk", pa.int64()),
    ]
    return pa.schema(fields).empty_table()
