"""Deaths among registered cases, and prevalence, for the statistics step and its explorer.

Two small functions over the store (Ibis, written once for every engine) and one core that
counts prevalent cases in additive cells at each index date, column at a time, with the
counting method of :func:`oncobase.stats.compute_prevalence`. The statistics step writes both
as aggregate tables (``stats__mortality``, ``stats__prevalence``); the explorer reads those.

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
import pyarrow as pa

from oncobase.errors import StatsError
from oncobase.stats.cases import AGE_GROUPS, cancer_cases_expr

__all__ = [
    "DURATIONS",
    "MORTALITY_SCHEMA",
    "PREVALENCE_KEYS",
    "PREVALENCE_SCHEMA",
    "age_groups_at",
    "case_deaths_expr",
    "closing_date",
    "count_prevalence_cells",
    "last_complete_year",
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


def last_complete_year(closing: dt.date) -> int:
    """The latest year whose 31 December the store has reached at ``closing``."""
    return closing.year if (closing.month, closing.day) == (12, 31) else closing.year - 1


#: ``stats__mortality``: one row per (site_group, sex, age_group, year, departement) with deaths.
MORTALITY_SCHEMA = pa.schema(
    [
        pa.field("site_group", pa.string()),
        pa.field("sex", pa.string()),
        pa.field("age_group", pa.string()),
        pa.field("year", pa.int64()),
        pa.field("departement", pa.string()),
        pa.field("deaths", pa.int64()),
    ]
)

#: The cells of ``stats__prevalence``: one row per index year, duration and these keys.
PREVALENCE_KEYS: tuple[str, ...] = ("site_group", "sex", "age_group", "departement")
PREVALENCE_SCHEMA = pa.schema(
    [
        pa.field("year", pa.int64()),
        pa.field("duration", pa.string()),
        pa.field("site_group", pa.string()),
        pa.field("sex", pa.string()),
        pa.field("age_group", pa.string()),
        pa.field("departement", pa.string()),
        pa.field("cases", pa.int64()),
    ]
)


def count_prevalence_cells(
    cases: pa.Table, *, last_year: int, durations: tuple[str, ...] = DURATIONS
) -> pa.Table:
    """Prevalent cases at 31 December of every year from the first diagnosis to ``last_year``.

    ``cases`` holds what :func:`prevalence_cases_expr` yields. A case counts as in
    :func:`oncobase.stats.compute_prevalence` (counting method): diagnosed on or before the
    index date and alive on it; for a duration of ``d`` years, diagnosed within ``d`` years
    before it ("complete": ever). Each case lies in one cell (site group, sex, age group at the
    index date, département), so the cells add up to any coarser grouping. A cell is written
    when a case diagnosed on or before the index date lies in it, even when none of its cases
    is prevalent for the duration (count 0). Columns: :data:`PREVALENCE_SCHEMA`.
    """
    for duration in durations:
        if duration not in DURATIONS:
            raise StatsError(f"duration must be one of {', '.join(DURATIONS)}")
    dx = np.asarray(cases.column("diagnosis_date").to_numpy()).astype("datetime64[D]")
    known = ~np.isnat(dx)
    if not known.any():
        return PREVALENCE_SCHEMA.empty_table()
    death = np.asarray(cases.column("death_date").to_numpy()).astype("datetime64[D]")
    yob = cases.column("year_of_birth").to_numpy()
    mob = cases.column("month_of_birth").to_numpy()
    keys = cases.select(["site_group", "sex", "departement"]).cast(
        pa.schema([pa.field(k, pa.string()) for k in ("site_group", "sex", "departement")])
    )
    first_year = int(dx[known].min().astype("datetime64[Y]").astype(np.int64)) + 1970
    pieces: list[pa.Table] = []
    for year in range(first_year, last_year + 1):  # one pass per index year, column at a time
        index = np.datetime64(dt.date(year, 12, 31), "D")
        rows = np.flatnonzero(known & (dx <= index))
        at = dx[rows]
        alive = np.isnat(death[rows]) | (death[rows] > index)
        cells = keys.take(pa.array(rows)).append_column(
            "age_group", pa.array(age_groups_at(yob[rows], mob[rows], on=index.item()))
        )
        for i, duration in enumerate(durations):
            prevalent = alive
            if duration != "complete":
                start = np.datetime64(dt.date(year - int(duration), 12, 31), "D")
                prevalent = alive & (at > start)
            cells = cells.append_column(f"n{i}", pa.array(prevalent.astype(np.int64)))
        grouped = cells.group_by(list(PREVALENCE_KEYS)).aggregate(
            [(f"n{i}", "sum") for i in range(len(durations))]
        )
        for i, duration in enumerate(durations):
            size = grouped.num_rows
            pieces.append(
                pa.table(
                    {
                        "year": pa.array(np.full(size, year, dtype=np.int64)),
                        "duration": pa.array([duration] * size, pa.string()),
                        **{k: grouped.column(k) for k in PREVALENCE_KEYS},
                        "cases": grouped.column(f"n{i}_sum"),
                    },
                    schema=PREVALENCE_SCHEMA,
                )
            )
    if not pieces:
        return PREVALENCE_SCHEMA.empty_table()
    order = [("year", "ascending"), ("duration", "ascending")]
    return pa.concat_tables(pieces).sort_by([*order, *((k, "ascending") for k in PREVALENCE_KEYS)])
