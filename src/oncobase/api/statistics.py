"""Aggregate statistics for the explorer, the dashboard and the open API.

Reads the pipeline's result tables (``stats__incidence``, ``stats__survival``) with bound
parameters only, and passes every count table through disclosure control before it leaves.
"""

from __future__ import annotations

import csv
import io
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TypeVar

import numpy as np

from oncobase.share.disclosure import MIN_CELL, suppress_table
from oncobase.stats.cases import site_groups
from oncobase.stats.standardise import STANDARDS, compute_asr
from oncobase.store import Backend

T = TypeVar("T")
DIMENSIONS = ("site_group", "sex", "age_group", "year", "departement", "region")
MEASURES = ("incidence", "survival", "mortality", "prevalence")
AGE_GROUPS = (*(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+")
SEXES = ("M", "F")
STANDARD_CHOICES = ("esp2013", "esp1976", "world")
_DEPT = re.compile(r"^(\d{2}|2A|2B|97\d)$")


class FilterError(ValueError):
    """A filter value the explorer does not know."""


@cache
def departements() -> dict[str, tuple[str, str, str]]:
    """Département code → (name, region code, region name)."""
    text = resources.files("oncobase.vocab").joinpath("data", "departements.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    return {r["code"]: (r["label"], r["region_code"], r["region_label"]) for r in rows}


@cache
def regions() -> dict[str, str]:
    return {code: name for _, code, name in departements().values()}


def site_labels() -> dict[str, str]:
    return {g.key: g.label for g in site_groups()}


@dataclass(frozen=True, kw_only=True)
class ExplorerQuery:
    """One view of the explorer; every field round-trips through the URL."""

    measure: str = "incidence"
    sites: tuple[str, ...] = ()
    sex: str | None = None
    age_groups: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    departements: tuple[str, ...] = ()
    region: str | None = None
    group_by: str = "site_group"
    series: str | None = None
    standard: str = "esp2013"

    def __post_init__(self) -> None:
        check_query(self)


def check_query(q: ExplorerQuery) -> None:
    """Raise FilterError naming the first unknown value."""
    if q.measure not in MEASURES:
        raise FilterError(f"measure must be one of {', '.join(MEASURES)}")
    known_sites = site_labels()
    for site in q.sites:
        if site not in known_sites:
            raise FilterError("unknown site group")
    if q.sex is not None and q.sex not in SEXES:
        raise FilterError("sex must be M or F")
    for group in q.age_groups:
        if group not in AGE_GROUPS:
            raise FilterError("unknown age group")
    for dept in q.departements:
        if not _DEPT.match(dept):
            raise FilterError("unknown département")
    if q.region is not None and q.region not in regions():
        raise FilterError("unknown region")
    if q.group_by not in DIMENSIONS:
        raise FilterError(f"group_by must be one of {', '.join(DIMENSIONS)}")
    if q.series is not None and (q.series not in DIMENSIONS or q.series == q.group_by):
        raise FilterError("series must be another dimension than group_by")
    if q.standard not in STANDARD_CHOICES:
        raise FilterError(f"standard must be one of {', '.join(STANDARD_CHOICES)}")
    for year in (q.year_from, q.year_to):
        if year is not None and not 1900 <= year <= 2100:
            raise FilterError("years lie between 1900 and 2100")


@dataclass(kw_only=True)
class CountTable:
    """A disclosure-controlled table: row labels × column labels, with margins."""

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
    min_cell: int = MIN_CELL
    rates: dict[str, float] = field(default_factory=dict)
    note: str | None = None

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow([self.row_dimension, *self.columns, "total"])
        for label, cells, total in zip(self.rows, self.cells, self.row_totals, strict=True):
            writer.writerow([label, *[_cell(v) for v in cells], _cell(total)])
        writer.writerow(["total", *[_cell(v) for v in self.column_totals], _cell(self.total)])
        return out.getvalue()


def _cell(value: int | None) -> str:
    return f"<{MIN_CELL}*" if value is None else str(value)


def _dimension_sql(name: str) -> str:
    if name != "region":
        return name
    whens = " ".join(
        f"WHEN '{code}' THEN '{region}'" for code, (_, region, _) in departements().items()
    )
    return f"(CASE departement {whens} ELSE NULL END)"


def _where(q: ExplorerQuery) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []

    def bind(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    if q.sites:
        clauses.append(f"site_group IN ({', '.join(bind(s) for s in q.sites)})")
    if q.sex:
        clauses.append(f"sex = {bind(q.sex)}")
    if q.age_groups:
        clauses.append(f"age_group IN ({', '.join(bind(a) for a in q.age_groups)})")
    if q.year_from is not None:
        clauses.append(f"year >= {bind(q.year_from)}")
    if q.year_to is not None:
        clauses.append(f"year <= {bind(q.year_to)}")
    depts = set(q.departements)
    if q.region:
        in_region = {c for c, (_, r, _) in departements().items() if r == q.region}
        depts = depts & in_region if depts else in_region
        if not depts:
            depts = {"--"}
    if depts:
        clauses.append(f"departement IN ({', '.join(bind(d) for d in sorted(depts))})")
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_CACHE: dict[tuple[str, str, ExplorerQuery], tuple[float, object]] = {}
_CACHE_LOCK = threading.Lock()
CACHE_SECONDS = 60.0


def _cached(kind: str, backend: Backend, q: ExplorerQuery, compute: Callable[[], T]) -> T:
    """Results of the (read-only, pipeline-refreshed) statistics tables, kept a minute."""
    key = (kind, backend.url, q)
    now = time.monotonic()
    with _CACHE_LOCK:
        hit = _CACHE.get(key)
    if hit is not None and now - hit[0] < CACHE_SECONDS:
        return hit[1]  # type: ignore[return-value]
    value = compute()
    with _CACHE_LOCK:
        if len(_CACHE) > 2000:
            _CACHE.clear()
        _CACHE[key] = (now, value)
    return value


def incidence_table(backend: Backend, q: ExplorerQuery) -> CountTable:
    """Incident cases by ``group_by`` (× ``series``), disclosure-controlled (cached a minute)."""
    return _cached("incidence", backend, q, lambda: _incidence_table(backend, q))


def _incidence_table(backend: Backend, q: ExplorerQuery) -> CountTable:
    dims = [q.group_by] + ([q.series] if q.series else [])
    select = ", ".join(f"{_dimension_sql(d)} AS d{i}" for i, d in enumerate(dims))
    where, params = _where(q)
    groups = ", ".join(f"d{i}" for i in range(len(dims)))
    if not backend.table_exists("stats__incidence"):
        return _empty_table(q, ["all"])
    data = backend.query_arrow(
        f"SELECT {select}, sum(cases) AS cases FROM stats__incidence{where} "
        f"GROUP BY {groups} ORDER BY {groups}",
        params,
    ).to_pydict()
    row_keys = [_label(v) for v in data.get("d0", [])]
    col_keys = [_label(v) for v in data.get("d1", [])] if q.series else ["all"] * len(row_keys)
    rows = sorted(set(row_keys), key=_sort_key)
    columns = sorted(set(col_keys), key=_sort_key) or ["all"]
    counts = np.zeros((len(rows), len(columns)), dtype=np.int64)
    r_index = {k: i for i, k in enumerate(rows)}
    c_index = {k: i for i, k in enumerate(columns)}
    for r, c, n in zip(row_keys, col_keys, data.get("cases", []), strict=True):
        counts[r_index[r], c_index[c]] += int(n or 0)
    if not rows:
        return _empty_table(q, columns)
    protected = suppress_table(counts)
    return CountTable(
        title="incidence",
        row_dimension=q.group_by,
        column_dimension=q.series,
        rows=rows,
        columns=columns,
        cells=protected.cells,
        row_totals=protected.row_totals,
        column_totals=protected.column_totals,
        total=protected.total,
        suppressed=protected.suppressed_cells,
    )


def _empty_table(q: ExplorerQuery, columns: list[str]) -> CountTable:
    return CountTable(
        title="incidence",
        row_dimension=q.group_by,
        column_dimension=q.series,
        rows=[],
        columns=columns,
        cells=[],
        row_totals=[],
        column_totals=[0] * len(columns),
        total=0,
        suppressed=0,
    )


def _label(value: object) -> str:
    return "unknown" if value is None else str(value)


def _sort_key(label: str) -> tuple[int, int, str]:
    if label in AGE_GROUPS:
        return (0, AGE_GROUPS.index(label), label)
    return (1, int(label), label) if label.isdigit() else (2, 0, label)


@dataclass(frozen=True, kw_only=True)
class SurvivalRow:
    site_group: str
    sex: str
    years: float
    cases: int | None
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None


def survival_rows(backend: Backend, q: ExplorerQuery) -> list[SurvivalRow]:
    """Observed survival at 1 and 5 years by site and sex (groups under 11 cases withheld)."""
    return _cached("survival", backend, q, lambda: _survival_rows(backend, q))


def _survival_rows(backend: Backend, q: ExplorerQuery) -> list[SurvivalRow]:
    clauses: list[str] = []
    params: list[object] = []
    if q.sites:
        clauses.append(f"site_group IN ({', '.join(f'${i + 1}' for i in range(len(q.sites)))})")
        params.extend(q.sites)
    if q.sex:
        params.append(q.sex)
        clauses.append(f"sex = ${len(params)}")
    where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
    if not backend.table_exists("stats__survival"):
        return []
    data = backend.query_arrow(
        "SELECT site_group, sex, time, cases, estimate, ci_lower, ci_upper FROM stats__survival"
        f"{where} ORDER BY site_group, sex, time",
        params,
    ).to_pylist()
    out = []
    for row in data:
        small = (row["cases"] or 0) < MIN_CELL
        out.append(
            SurvivalRow(
                site_group=str(row["site_group"]),
                sex=str(row["sex"]),
                years=round(float(row["time"] or 0) / 365.25, 1),
                cases=None if small else int(row["cases"]),
                estimate=None if small else _round(row["estimate"]),
                ci_lower=None if small else _round(row["ci_lower"]),
                ci_upper=None if small else _round(row["ci_upper"]),
            )
        )
    return out


def _round(value: object) -> float | None:
    return None if value is None else round(float(value), 4)  # type: ignore[arg-type]


def survival_csv(rows: list[SurvivalRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["site_group", "sex", "years", "cases", "estimate", "ci_lower", "ci_upper"])
    for r in rows:
        writer.writerow(
            [r.site_group, r.sex, r.years, _cell(r.cases), r.estimate, r.ci_lower, r.ci_upper]
        )
    return out.getvalue()


@dataclass(frozen=True, kw_only=True)
class Population:
    """Population denominators: (year, sex, age_group, departement) → persons."""

    rows: list[tuple[int, str, str, str, float]]


@cache
def _read_population(path: str, mtime: float) -> Population:
    with open(path, encoding="utf-8", newline="") as handle:
        rows = [
            (
                int(r["year"]),
                r["sex"],
                r["age_group"],
                r["departement"],
                float(r["population"]),
            )
            for r in csv.DictReader(handle)
        ]
    return Population(rows=rows)


def load_population(path: Path | None) -> Population | None:
    if path is None or not path.exists():
        return None
    return _read_population(str(path), path.stat().st_mtime)


def standardised_rates(
    backend: Backend, q: ExplorerQuery, population: Population
) -> dict[str, float]:
    """Age-standardised rate per 100,000 for each ``group_by`` value (when denominators exist).

    Only groups whose total count passes disclosure control get a rate.
    """
    if q.group_by not in ("site_group", "sex", "year", "departement"):
        return {}
    where, params = _where(q)
    data = backend.query_arrow(
        f"SELECT {q.group_by} AS g, sex, age_group, year, departement, sum(cases) AS cases "
        f"FROM stats__incidence{where} GROUP BY ALL",
        params,
    ).to_pylist()
    if not data:
        return {}
    pop = population.rows
    keep = [
        p
        for p in pop
        if (q.sex is None or p[1] == q.sex)
        and (not q.age_groups or p[2] in q.age_groups)
        and (q.year_from is None or p[0] >= q.year_from)
        and (q.year_to is None or p[0] <= q.year_to)
        and (not q.departements or p[3] in q.departements)
    ]
    out: dict[str, float] = {}
    labels = sorted({_label(r["g"]) for r in data})
    position = {"sex": 1, "year": 0, "departement": 3}
    for label in labels:
        cases_by_age = dict.fromkeys(AGE_GROUPS, 0.0)
        total = 0
        for r in data:
            if _label(r["g"]) == label and r["age_group"] in cases_by_age:
                cases_by_age[r["age_group"]] += float(r["cases"] or 0)
                total += int(r["cases"] or 0)
        if total < MIN_CELL:
            continue
        py_by_age = dict.fromkeys(AGE_GROUPS, 0.0)
        for p in keep:
            if q.group_by in position and str(p[position[q.group_by]]) != label:
                continue
            if p[2] in py_by_age:
                py_by_age[p[2]] += p[4]
        if min(py_by_age.values()) <= 0:
            continue
        result = compute_asr(
            list(cases_by_age.values()),
            list(py_by_age.values()),
            age_groups=list(AGE_GROUPS),
            standard=q.standard,
        )
        out[label] = round(result.asr, 2)
    return out


@dataclass(frozen=True, kw_only=True)
class Dashboard:
    latest_year: int | None
    cases_latest: int | None
    cases_by_year: CountTable
    top_sites: CountTable


def dashboard(backend: Backend) -> Dashboard:
    """Key figures of the latest complete year and the trend of cases by year (cached)."""
    return _cached("dashboard", backend, ExplorerQuery(), lambda: _dashboard(backend))


def _dashboard(backend: Backend) -> Dashboard:
    latest = (
        backend.scalar("SELECT max(year) FROM stats__incidence")
        if backend.table_exists("stats__incidence")
        else None
    )
    latest_year = int(latest) if isinstance(latest, int) else None
    by_year = incidence_table(backend, ExplorerQuery(group_by="year"))
    top = incidence_table(
        backend,
        ExplorerQuery(group_by="site_group", year_from=latest_year, year_to=latest_year),
    )
    cases_latest = None
    if latest_year is not None and str(latest_year) in by_year.rows:
        cases_latest = by_year.row_totals[by_year.rows.index(str(latest_year))]
    return Dashboard(
        latest_year=latest_year, cases_latest=cases_latest, cases_by_year=by_year, top_sites=top
    )


__all__ = [
    "AGE_GROUPS",
    "DIMENSIONS",
    "MEASURES",
    "STANDARDS",
    "STANDARD_CHOICES",
    "CountTable",
    "ExplorerQuery",
    "FilterError",
    "check_query",
    "dashboard",
    "incidence_table",
    "survival_rows",
]


def query_from_params(params: dict[str, list[str]]) -> ExplorerQuery:
    """An explorer view from URL parameters (FilterError when a value is unknown)."""

    def one(name: str) -> str | None:
        values = [v for v in params.get(name, []) if v.strip()]
        return values[-1].strip() if values else None

    def many(name: str) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.strip() for v in params.get(name, []) if v.strip()))

    def year(name: str) -> int | None:
        value = one(name)
        if value is None:
            return None
        if not value.isdigit() or len(value) != 4:
            raise FilterError(f"{name} must be a year such as 2020")
        return int(value)

    return ExplorerQuery(
        measure=one("measure") or "incidence",
        sites=many("site"),
        sex=one("sex"),
        age_groups=many("age_group"),
        year_from=year("year_from"),
        year_to=year("year_to"),
        departements=many("departement"),
        region=one("region"),
        group_by=one("group_by") or "site_group",
        series=one("series"),
        standard=one("standard") or "esp2013",
    )


def query_to_params(q: ExplorerQuery) -> list[tuple[str, str]]:
    """The URL parameters of a view (the inverse of :func:`query_from_params`)."""
    out: list[tuple[str, str]] = [("measure", q.measure), ("group_by", q.group_by)]
    out += [("site", s) for s in q.sites]
    out += [("age_group", a) for a in q.age_groups]
    out += [("departement", d) for d in q.departements]
    for name, value in (
        ("sex", q.sex),
        ("year_from", q.year_from),
        ("year_to", q.year_to),
        ("region", q.region),
        ("series", q.series),
    ):
        if value is not None:
            out.append((name, str(value)))
    out.append(("standard", q.standard))
    return out
