"""Deaths among registered cases, and prevalence, for the statistics explorer.

Two small functions over the store (Ibis, written once for every engine) and one core that
splits cases into groups and counts each group with :func:`oncobase.stats.compute_prevalence`.

What the store can say about deaths: the INSEE death file carries no cause of death, and the
loaded ``death`` table has no ``cause_concept_id``; so the explorer's "mortality" counts the
*deaths among registered cases* (any cause), by year of death, not cancer mortality.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import ibis
import ibis.expr.types as ir
import numpy as np
import numpy.typing as npt

from oncobase.errors import StatsError
from oncobase.stats.cases import AGE_GROUPS, cancer_cases_expr
from oncobase.stats.prevalence import compute_prevalence

__all__ = [
    "DURATIONS",
    "age_groups_at",
    "case_deaths_expr",
    "closing_date",
    "count_prevalence_by_group",
    "prevalence_cases_expr",
]

#: Durations of partial prevalence (years since diagnosis), and complete prevalence.
DURATIONS: tuple[str, ...] = ("1", "5", "10", "complete")


def _with_birth(tables: Mapping[str, ir.Table]) -> ir.Table:
    """Incident cases (one per person and site group) with the person's birth year and month."""
    cases = cancer_cases_expr(tables)
    person = tables["person"]
    birth = person.select(
        birth_person_id=person.person_id,
        year_of_birth=person.year_of_birth,
        month_of_birth=person.month_of_birth.fill_null(7),
    )
    return cases.join(birth, cases.person_id == birth.birth_person_id)


def _deaths(tables: Mapping[str, ir.Table]) -> ir.Table:
    death = tables["death"]
    return death.group_by(death_person_id=death.person_id).aggregate(
        death_date=death.death_date.min()
    )


def closing_date(tables: Mapping[str, ir.Table]) -> dt.date | None:
    """The date vital status is known at: the latest death or diagnosis date in the store
    (None when the store holds neither)."""
    found = [
        _as_date(tables["death"].death_date.max().execute()),
        _as_date(tables["condition_occurrence"].condition_start_date.max().execute()),
    ]
    dates = [d for d in found if d is not None]
    return max(dates) if dates else None


def _as_date(value: object) -> dt.date | None:
    if value is None or str(value) in {"NaT", "nan", "NaN"}:  # an empty table's max
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    to_pydatetime = getattr(value, "to_pydatetime", None)  # pandas Timestamp
    if callable(to_pydatetime):
        converted = to_pydatetime()
        return converted.date() if isinstance(converted, dt.datetime) else None
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:  # NaT, NaN
        return None


def case_deaths_expr(tables: Mapping[str, ir.Table], *, last_year: int) -> ir.Table:
    """Deaths (any cause) of registered cases, counted by the case's site group and the person's
    sex, age at death, year of death and département.

    A person registered for two site groups counts once under each (as in incidence). Deaths
    before the diagnosis (inconsistent records, reported by the quality checks) and deaths after
    ``last_year`` (an incomplete year) are left out. Columns: site_group, sex, age_group, year,
    departement, deaths.
    """
    cases = _with_birth(tables)
    deaths = _deaths(tables)
    joined = cases.join(deaths, cases.person_id == deaths.death_person_id)
    joined = joined.filter(
        (joined.death_date >= joined.diagnosis_date) & (joined.death_date.year() <= last_year)
    )
    age = (
        joined.death_date.year()
        - joined.year_of_birth
        - (joined.death_date.month() < joined.month_of_birth).cast("int64")
    ).cast("int64")
    rows = joined.select(
        site_group=joined.site_group,
        sex=joined.sex,
        age_group=ibis.cases(
            *[(age < 5 * (i + 1), ibis.literal(label)) for i, label in enumerate(AGE_GROUPS[:-1])],
            else_=ibis.literal(AGE_GROUPS[-1]),
        ),
        year=joined.death_date.year().cast("int64"),
        departement=joined.departement,
    )
    keys = ["site_group", "sex", "age_group", "year", "departement"]
    return rows.group_by(keys).aggregate(deaths=rows.count()).order_by(keys)


def prevalence_cases_expr(tables: Mapping[str, ir.Table]) -> ir.Table:
    """What prevalence needs of each incident case (pseudonymous; no person id).

    Columns: site_group, sex, departement, diagnosis_date, death_date (null: alive),
    year_of_birth, month_of_birth. Cases whose death precedes the diagnosis are left out.
    """
    cases = _with_birth(tables)
    deaths = _deaths(tables)
    joined = cases.left_join(deaths, cases.person_id == deaths.death_person_id)
    joined = joined.filter(
        joined.death_date.isnull() | (joined.death_date >= joined.diagnosis_date)
    )
    return joined.select(
        "site_group",
        "sex",
        "departement",
        "diagnosis_date",
        "death_date",
        "year_of_birth",
        "month_of_birth",
    )


def age_groups_at(
    year_of_birth: npt.ArrayLike, month_of_birth: npt.ArrayLike, *, on: dt.date
) -> npt.NDArray[np.str_]:
    """The 5-year age group ("0-4" … "85+") of each person on the date ``on``."""
    yob = np.asarray(year_of_birth, dtype=np.int64)
    mob = np.asarray(month_of_birth, dtype=np.int64)
    age = on.year - yob - (on.month < mob).astype(np.int64)
    index = np.clip(age // 5, 0, len(AGE_GROUPS) - 1)
    return np.asarray(AGE_GROUPS)[index]


def count_prevalence_by_group(
    diagnosis_date: npt.ArrayLike,
    end_date: npt.ArrayLike,
    group: npt.ArrayLike,
    *,
    groups: int,
    index_date: dt.date,
    duration: str,
) -> npt.NDArray[np.int64]:
    """Prevalent cases at ``index_date`` in each of ``groups`` groups (``group``: 0 … groups-1).

    Each group is counted by :func:`compute_prevalence` (counting method); ``duration`` is
    "1", "5" or "10" (diagnosed within so many years before the index date) or "complete".
    One sort, then each group is a contiguous slice.
    """
    if duration not in DURATIONS:
        raise StatsError(f"duration must be one of {', '.join(DURATIONS)}")
    codes = np.asarray(group, dtype=np.int64)
    dx = np.asarray(diagnosis_date).astype("datetime64[D]")
    end = np.asarray(end_date).astype("datetime64[D]")
    counts = np.zeros(groups, dtype=np.int64)
    if codes.size == 0:
        return counts
    if codes.min() < 0 or codes.max() >= groups:
        raise StatsError("group codes must lie between 0 and groups - 1")
    order = np.argsort(codes, kind="stable")
    codes, dx, end = codes[order], dx[order], end[order]
    bounds = np.flatnonzero(np.diff(codes)) + 1
    starts = np.concatenate([[0], bounds])
    ends = np.concatenate([bounds, [codes.size]])
    label = "complete" if duration == "complete" else f"{duration}-year"
    durations = () if duration == "complete" else (int(duration),)
    index = np.datetime64(index_date, "D")
    for start, stop in zip(starts, ends, strict=True):  # one call per group, not per case
        table = compute_prevalence(
            dx[start:stop], end[start:stop], index_date=index, durations=durations
        )
        measures = table.column("measure").to_pylist()
        counts[codes[start]] = int(table.column("count")[measures.index(label)].as_py())
    return counts
