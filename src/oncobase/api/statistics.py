"""Aggregate statistics for the explorer, the dashboard and the open API.

Three count measures share one path, each read from an aggregate table that the pipeline's
``stats`` step writes: incidence (``stats__incidence``), deaths among registered cases
(``stats__mortality``) and prevalence (``stats__prevalence``, one set of cells per index year
and duration). The web process reads no person-level row. Each source is read once per state
of the store (the load metadata says when it changed) and kept in memory; a view filters and
groups it column at a time (Arrow, numpy), and every count table passes disclosure control
(:func:`oncobase.share.disclosure.suppress_table`) before it leaves. Rates per 100,000 and
age-standardised rates need population denominators (:class:`Population`).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field, replace
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.logging import get_logger
from oncobase.share.disclosure import MIN_CELL, suppress_table
from oncobase.stats.cases import site_groups
from oncobase.stats.measures import DURATIONS
from oncobase.stats.standardise import STANDARDS, compute_asr
from oncobase.store import Backend

log = get_logger(__name__)
T = TypeVar("T")
DIMENSIONS = ("site_group", "sex", "age_group", "year", "departement", "region")
MEASURES = ("incidence", "mortality", "prevalence", "survival")
COUNT_MEASURES = ("incidence", "mortality", "prevalence")
AGE_GROUPS = (*(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+")
SEXES = ("M", "F")
STANDARD_CHOICES = ("esp2013", "esp1976", "world")
DEFAULT_DURATION = "5"
_DEPT = re.compile(r"^(\d{2}|2A|2B|97\d)$")
_POPULATION_DIMENSIONS = ("sex", "age_group", "year", "departement", "region")


class FilterError(ValueError):
    """A filter value the explorer does not know."""


class PopulationError(ValueError):
    """The configured population CSV cannot be used (the message says why)."""


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
    duration: str = DEFAULT_DURATION  # prevalence: "1", "5", "10" years or "complete"

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
    if q.duration not in DURATIONS:
        raise FilterError(f"duration must be one of {', '.join(DURATIONS)}")
    for year in (q.year_from, q.year_to):
        if year is not None and not 1900 <= year <= 2100:
            raise FilterError("years lie between 1900 and 2100")


@dataclass(frozen=True, kw_only=True)
class Rate:
    """Rates of one ``group_by`` value, per 100,000 (person-years, or persons for prevalence).

    ``asr`` (with its 95% gamma interval) is None when it does not apply: grouped by age, or
    an age filter leaves standard age groups without population.
    """

    label: str
    count: int
    population: float
    crude: float
    asr: float | None
    ci_lower: float | None
    ci_upper: float | None


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
    rates: list[Rate] = field(default_factory=list)
    note: str | None = None
    index_dates: list[str] = field(default_factory=list)  # prevalence: 31 December of …

    def to_csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        rate_of = {r.label: r for r in self.rates}
        extra = ["crude_rate_per_100000", "asr_per_100000", "asr_ci_lower", "asr_ci_upper"]
        writer.writerow([self.row_dimension, *self.columns, "total", *(extra if rate_of else [])])
        for label, cells, total in zip(self.rows, self.cells, self.row_totals, strict=True):
            rate = rate_of.get(label)
            rates = [] if not rate_of else ["", "", "", ""]
            if rate is not None:
                rates = [_blank(v) for v in (rate.crude, rate.asr, rate.ci_lower, rate.ci_upper)]
            writer.writerow([label, *[_cell(v) for v in cells], _cell(total), *rates])
        writer.writerow(["total", *[_cell(v) for v in self.column_totals], _cell(self.total)])
        return out.getvalue()


def _cell(value: int | None) -> str:
    return f"<{MIN_CELL}*" if value is None else str(value)


def _blank(value: float | None) -> str:
    return "" if value is None else str(value)


# -- what the store holds, once per state of the store -----------------------------------------
_VERSIONS: dict[str, tuple[float, str]] = {}
VERSION_SECONDS = 2.0


def store_version(backend: Backend) -> str:
    """Changes whenever a load or a pipeline step writes to the store.

    Asked of the store at most every few seconds (a view may lag a load by that much): the
    question costs a catalogue lookup and a query, more than a cached view itself.
    """
    now = time.monotonic()
    hit = _VERSIONS.get(backend.url)
    if hit is not None and now - hit[0] < VERSION_SECONDS:
        return hit[1]
    if not backend.table_exists("platform__loads"):
        version = "no-loads"
    else:
        row = backend.query_arrow(
            "SELECT count(*) AS n, max(started_at) AS s, max(ended_at) AS e FROM platform__loads"
        ).to_pylist()[0]
        version = f"{row['n']}|{row['s']}|{row['e']}"
    _VERSIONS[backend.url] = (now, version)
    return version


@dataclass(frozen=True, kw_only=True)
class _Source:
    """One measure's additive cells (``counts``; for prevalence, with a ``duration`` column)."""

    counts: pa.Table | None = None
    first_year: int | None = None
    last_year: int | None = None
    note: str | None = None


_SOURCES: dict[tuple[str, str, str], _Source] = {}
_SOURCE_LOCK = threading.Lock()
_COUNT_COLUMNS = ("site_group", "sex", "age_group", "year", "departement")


def _source(backend: Backend, measure: str, version: str) -> _Source:
    key = (backend.url, version, measure)
    hit = _SOURCES.get(key)
    if hit is not None:
        return hit
    with _SOURCE_LOCK:  # one computation per store state, whatever the number of users
        hit = _SOURCES.get(key)
        if hit is None:
            started = time.perf_counter()
            hit = _read_source(backend, measure)
            log.info("%s source read in %.2f s", measure, time.perf_counter() - started)
            for old in [k for k in _SOURCES if k[0] == backend.url and k[1] != version]:
                del _SOURCES[old]
            _SOURCES[key] = hit
    return hit


# measure → (aggregate table written by the stats step, its count column, extra columns)
_TABLES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "incidence": ("stats__incidence", "cases", ()),
    "mortality": ("stats__mortality", "deaths", ()),
    "prevalence": ("stats__prevalence", "cases", ("duration",)),
}


def _read_source(backend: Backend, measure: str) -> _Source:
    table, count, extra = _TABLES[measure]
    if not backend.table_exists(table):
        return _Source(note="the statistics step has not run yet")
    columns = ", ".join((*_COUNT_COLUMNS, *extra))
    return _count_source(backend.query_arrow(f"SELECT {columns}, {count} AS count FROM {table}"))


def _text(column: pa.ChunkedArray) -> npt.NDArray[np.str_]:
    """A text column as a numpy string array, nulls as "unknown"."""
    filled = pc.fill_null(pc.cast(column, pa.string()), "unknown")
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=str)


def _regions_of(dept: npt.NDArray[np.str_]) -> npt.NDArray[np.str_]:
    lookup = departements()
    codes = np.array(list(lookup), dtype=str)
    names = np.array([region for _, region, _ in lookup.values()] + ["unknown"], dtype=str)
    order = np.argsort(codes)
    pos = np.searchsorted(codes[order], dept)
    pos = np.clip(pos, 0, len(codes) - 1)
    found = codes[order][pos] == dept
    return np.where(found, names[order][pos], "unknown")


def _count_source(data: pa.Table) -> _Source:
    dept = _text(data.column("departement"))
    extra = {"duration": _text(data.column("duration"))} if "duration" in data.column_names else {}
    table = pa.table(
        {
            "site_group": _text(data.column("site_group")),
            "sex": _text(data.column("sex")),
            "age_group": _text(data.column("age_group")),
            "year": pc.cast(data.column("year"), pa.int64()),
            "departement": dept,
            "region": _regions_of(dept),
            **extra,
            "count": pc.cast(pc.fill_null(data.column("count"), 0), pa.int64()),
        }
    )
    years = table.column("year")
    first = pc.min(years).as_py() if table.num_rows else None
    last = pc.max(years).as_py() if table.num_rows else None
    return _Source(counts=table, first_year=first, last_year=last)


# -- filters and groups --------------------------------------------------------------------------
def _department_set(q: ExplorerQuery) -> list[str] | None:
    return sorted(set(q.departements)) if q.departements else None


def _arrow_filter(q: ExplorerQuery) -> pc.Expression | None:
    parts: list[pc.Expression] = []
    if q.sites:
        parts.append(pc.field("site_group").isin(list(q.sites)))
    if q.sex:
        parts.append(pc.field("sex") == q.sex)
    if q.age_groups:
        parts.append(pc.field("age_group").isin(list(q.age_groups)))
    if q.year_from is not None:
        parts.append(pc.field("year") >= q.year_from)
    if q.year_to is not None:
        parts.append(pc.field("year") <= q.year_to)
    depts = _department_set(q)
    if depts is not None:
        parts.append(pc.field("departement").isin(depts))
    if q.region:
        parts.append(pc.field("region") == q.region)
    if not parts:
        return None
    combined = parts[0]
    for part in parts[1:]:
        combined = combined & part
    return combined


def _grouped_counts(counts: pa.Table, q: ExplorerQuery, dims: list[str]) -> pa.Table:
    """Sum of ``count`` over the view's filters, by ``dims`` (columns d0, d1 …, count)."""
    expression = _arrow_filter(q)
    kept = counts.filter(expression) if expression is not None else counts
    grouped = kept.group_by(dims).aggregate([("count", "sum")])
    return pa.table(
        {
            **{f"d{i}": pc.cast(grouped.column(d), pa.string()) for i, d in enumerate(dims)},
            "count": grouped.column("count_sum"),
        }
    )


def index_years(source: _Source, q: ExplorerQuery) -> list[int]:
    """Prevalence: the years at whose 31 December persons are counted.

    Grouped (or in series) by year: every year from ``year_from`` to ``year_to`` within the
    data; otherwise one, ``year_to`` or the latest year whose end the store has reached.
    """
    if source.first_year is None or source.last_year is None:
        return []
    first, last = source.first_year, source.last_year
    if "year" in (q.group_by, q.series):
        lo = max(q.year_from or first, first)
        hi = min(q.year_to or last, last)
        return list(range(lo, hi + 1))
    year = min(q.year_to or last, last)
    return [year] if year >= first and year >= (q.year_from or year) else []


def _counts(source: _Source, measure: str, q: ExplorerQuery, dims: list[str]) -> pa.Table:
    counts = source.counts
    if counts is not None and measure == "prevalence":  # the cells of the view's index dates
        years = pa.array(index_years(source, q), pa.int64())
        counts = counts.filter((pc.field("duration") == q.duration) & pc.field("year").isin(years))
    if counts is None:
        return pa.table(
            {
                **{f"d{i}": pa.array([], pa.string()) for i in range(len(dims))},
                "count": pa.array([], pa.int64()),
            }
        )
    return _grouped_counts(counts, q, dims)


# -- count tables --------------------------------------------------------------------------------
_CACHE: dict[Hashable, tuple[float, object]] = {}
_CACHE_LOCK = threading.Lock()
CACHE_SECONDS = 600.0  # the store state is in every key: this only bounds memory use


def _cached(key: Hashable, compute: Callable[[], T]) -> T:
    """Views of the (read-only, pipeline-refreshed) store, kept per store state."""
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


def measure_table(backend: Backend, q: ExplorerQuery) -> CountTable:
    """Counts of ``q.measure`` (incidence, mortality or prevalence) by ``group_by`` (×
    ``series``), disclosure-controlled."""
    if q.measure not in COUNT_MEASURES:
        raise FilterError(f"{q.measure} is not a count measure")
    version = store_version(backend)
    return _cached(("table", backend.url, version, q), lambda: _measure_table(backend, q, version))


def incidence_table(backend: Backend, q: ExplorerQuery) -> CountTable:
    """Incident cases by ``group_by`` (× ``series``), disclosure-controlled (cached)."""
    return measure_table(backend, replace(q, measure="incidence"))


def _measure_table(backend: Backend, q: ExplorerQuery, version: str) -> CountTable:
    source = _source(backend, q.measure, version)
    dims = [q.group_by] + ([q.series] if q.series else [])
    grouped = _counts(source, q.measure, q, dims)
    years = index_years(source, q) if q.measure == "prevalence" else []
    table = _count_table(q, grouped)
    table.note = source.note
    table.index_dates = [dt.date(y, 12, 31).isoformat() for y in years]
    return table


def _positions(labels: npt.NDArray[np.str_]) -> tuple[list[str], npt.NDArray[np.intp]]:
    """Distinct labels in display order, and each label's position among them."""
    uniq, inverse = np.unique(labels, return_inverse=True)
    order = sorted(range(len(uniq)), key=lambda i: _sort_key(str(uniq[i])))
    position = np.empty(len(uniq), dtype=np.intp)
    position[order] = np.arange(len(uniq))
    return [str(uniq[i]) for i in order], position[inverse.reshape(-1)]


def _count_table(q: ExplorerQuery, grouped: pa.Table) -> CountTable:
    if grouped.num_rows == 0:
        return _empty_table(q, ["all"])
    row_labels = _text(grouped.column("d0"))
    rows, row_pos = _positions(row_labels)
    if q.series:
        columns, col_pos = _positions(_text(grouped.column("d1")))
    else:
        columns, col_pos = ["all"], np.zeros(grouped.num_rows, dtype=np.intp)
    counts = np.zeros((len(rows), len(columns)), dtype=np.int64)
    values = grouped.column("count").to_numpy(zero_copy_only=False).astype(np.int64)
    np.add.at(counts, (row_pos, col_pos), values)
    protected = suppress_table(counts)
    return CountTable(
        title=q.measure,
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
        title=q.measure,
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


def _sort_key(label: str) -> tuple[int, int, str]:
    if label in AGE_GROUPS:
        return (0, AGE_GROUPS.index(label), label)
    return (1, int(label), label) if label.isdigit() else (2, 0, label)


# -- rates ---------------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Population:
    """Population denominators: persons by year, sex, age group and département (and the
    département's region), one row per cell."""

    table: pa.Table
    path: str

    @property
    def years(self) -> set[int]:
        return set(pc.unique(self.table.column("year")).to_pylist())


@cache
def _read_population(path: str, mtime: float) -> Population:
    import pyarrow.csv as pa_csv

    try:
        data = pa_csv.read_csv(
            path,
            convert_options=pa_csv.ConvertOptions(
                column_types={
                    "year": pa.int64(),
                    "sex": pa.string(),
                    "age_group": pa.string(),
                    "departement": pa.string(),
                    "population": pa.float64(),
                }
            ),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise PopulationError(
            f"population CSV {Path(path).name}: cannot be read as columns year, sex, "
            f"age_group, departement, population ({type(exc).__name__})"
        ) from None
    missing = [
        c for c in ("year", "sex", "age_group", "departement", "population")
        if c not in data.column_names
    ]  # fmt: skip
    if missing:
        raise PopulationError(f"population CSV {Path(path).name} lacks column(s) {missing}")
    negative = pc.sum(pc.less(data.column("population"), 0)).as_py() or 0
    if negative or data.column("population").null_count:
        raise PopulationError(f"population CSV {Path(path).name}: empty or negative population")
    unknown = set(pc.unique(data.column("age_group")).to_pylist()) - set(AGE_GROUPS)
    if unknown:
        raise PopulationError(
            f"population CSV {Path(path).name}: age groups must be 0-4 … 85+ "
            f"(found {sorted(str(u) for u in unknown)[:3]})"
        )
    dept = _text(data.column("departement"))
    table = pa.table(
        {
            "year": data.column("year"),
            "sex": _text(data.column("sex")),
            "age_group": _text(data.column("age_group")),
            "departement": dept,
            "region": _regions_of(dept),
            "population": data.column("population"),
        }
    )
    return Population(table=table, path=path)


def load_population(path: Path | None) -> Population | None:
    """The population at ``path`` (None without one; PopulationError when unusable)."""
    if path is None or not path.is_file():
        return None
    return _read_population(str(path), path.stat().st_mtime)


def _rate_years(source: _Source, q: ExplorerQuery) -> list[int]:
    if q.measure == "prevalence":
        return index_years(source, q)
    if source.first_year is None or source.last_year is None:
        return []
    lo = max(q.year_from or source.first_year, source.first_year)
    hi = min(q.year_to or source.last_year, source.last_year)
    return list(range(lo, hi + 1))


def measure_rates(
    backend: Backend, q: ExplorerQuery, population: Population
) -> tuple[list[Rate], str | None]:
    """Crude rate and age-standardised rate per 100,000 for each ``group_by`` value, and a
    note when no rate can be given.

    Incidence and mortality are per 100,000 person-years (the population summed over the
    years of the view); prevalence per 100,000 persons at the index date. Only values whose
    count is published by disclosure control get a rate (a rate and a population give the
    count back).
    """
    if q.measure not in COUNT_MEASURES:
        return [], None
    version = store_version(backend)
    key = ("rates", backend.url, version, q, population.path)
    return _cached(key, lambda: _measure_rates(backend, q, population, version))


def _measure_rates(
    backend: Backend, q: ExplorerQuery, population: Population, version: str
) -> tuple[list[Rate], str | None]:
    source = _source(backend, q.measure, version)
    table = measure_table(backend, q)
    published = {
        label: total
        for label, total in zip(table.rows, table.row_totals, strict=True)
        if total is not None and total > 0
    }
    if not published:
        return [], None
    years = _rate_years(source, q)
    missing = sorted(set(years) - population.years)
    if missing:
        return [], f"the population table has no year {missing[0]}: no rates"
    by_age = q.group_by == "age_group"
    dims = [q.group_by] if by_age else [q.group_by, "age_group"]
    counts = _counts(source, q.measure, q, dims)
    cases = _matrix(counts, published, age_column="d0" if by_age else "d1")
    pop_view = replace(q, sites=(), year_from=None, year_to=None)
    expression = _arrow_filter(pop_view)
    pop = population.table.filter(pc.field("year").isin(years))
    if expression is not None:
        pop = pop.filter(expression)
    split = q.group_by in _POPULATION_DIMENSIONS
    pop_dims = (["age_group"] if by_age else [q.group_by, "age_group"]) if split else ["age_group"]
    grouped = pop.group_by(pop_dims).aggregate([("population", "sum")])
    pop_counts = pa.table(
        {
            **{f"d{i}": pc.cast(grouped.column(d), pa.string()) for i, d in enumerate(pop_dims)},
            "count": grouped.column("population_sum"),
        }
    )
    if split:
        persons = _matrix(pop_counts, published, age_column="d0" if by_age else "d1")
    else:
        everyone = _matrix(pop_counts, {"all": 0}, age_column="d0", single="all")["all"]
        persons = dict.fromkeys(published, everyone)
    out: list[Rate] = []
    for label in published:  # one per row of the table (a few dozen at most)
        c, p = cases.get(label), persons.get(label)
        if c is None or p is None or p.sum() <= 0:
            continue
        asr = lower = upper = None
        if not by_age and not q.age_groups and np.all(p > 0):
            result = compute_asr(c, p, age_groups=list(AGE_GROUPS), standard=q.standard)
            asr, lower, upper = (
                round(v, 2) for v in (result.asr, result.ci_lower, result.ci_upper)
            )
        out.append(
            Rate(
                label=label,
                count=int(c.sum()),
                population=round(float(p.sum()), 1),
                crude=round(float(c.sum() / p.sum() * 100_000), 2),
                asr=asr,
                ci_lower=lower,
                ci_upper=upper,
            )
        )
    return out, None


def _matrix(
    grouped: pa.Table, labels: dict[str, Any], *, age_column: str, single: str | None = None
) -> dict[str, npt.NDArray[np.float64]]:
    """label → values by age group (AGE_GROUPS order) from a grouped table."""
    ages = _text(grouped.column(age_column))
    group = (
        np.full(grouped.num_rows, single)
        if single is not None
        else (ages if age_column == "d0" else _text(grouped.column("d0")))
    )
    values = grouped.column("count").to_numpy(zero_copy_only=False).astype(np.float64)
    age_pos = {a: i for i, a in enumerate(AGE_GROUPS)}
    out: dict[str, npt.NDArray[np.float64]] = {}
    for label in labels:  # table rows, not persons
        mask = group == label
        vector = np.zeros(len(AGE_GROUPS))
        for age, value in zip(ages[mask], values[mask], strict=True):  # ≤ 18 age groups
            if age in age_pos:
                vector[age_pos[age]] += value
        out[label] = vector
    return out


def standardised_rates(
    backend: Backend, q: ExplorerQuery, population: Population
) -> dict[str, float]:
    """Age-standardised rate per 100,000 for each ``group_by`` value that has one."""
    rates, _ = measure_rates(backend, q, population)
    return {r.label: r.asr for r in rates if r.asr is not None}


# -- survival ------------------------------------------------------------------------------------
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
    version = store_version(backend)
    return _cached(("survival", backend.url, version, q), lambda: _survival_rows(backend, q))


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


# -- dashboard -----------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Dashboard:
    latest_year: int | None
    cases_latest: int | None
    cases_by_year: CountTable
    top_sites: CountTable


def dashboard(backend: Backend) -> Dashboard:
    """Key figures of the latest complete year and the trend of cases by year (cached)."""
    version = store_version(backend)
    return _cached(("dashboard", backend.url, version), lambda: _dashboard(backend, version))


def _dashboard(backend: Backend, version: str) -> Dashboard:
    latest_year = _source(backend, "incidence", version).last_year
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


def warm_up(backend: Backend) -> None:
    """Read every source and the dashboard now (a second or two on the demo store), so that
    the first visitors after a start or a pipeline run do not wait for it."""
    version = store_version(backend)
    for measure in COUNT_MEASURES:
        _source(backend, measure, version)
    dashboard(backend)


# -- the URL of a view ---------------------------------------------------------------------------
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
        duration=one("duration") or DEFAULT_DURATION,
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
    if q.measure == "prevalence":
        out.append(("duration", q.duration))
    return out


__all__ = [
    "AGE_GROUPS",
    "COUNT_MEASURES",
    "DIMENSIONS",
    "DURATIONS",
    "MEASURES",
    "STANDARDS",
    "STANDARD_CHOICES",
    "CountTable",
    "ExplorerQuery",
    "FilterError",
    "Population",
    "PopulationError",
    "Rate",
    "check_query",
    "dashboard",
    "incidence_table",
    "load_population",
    "measure_rates",
    "measure_table",
    "query_from_params",
    "query_to_params",
    "store_version",
    "survival_rows",
    "warm_up",
]
