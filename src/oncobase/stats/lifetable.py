"""Population life tables: daily hazards by sex, age and calendar year.

A life table is read from a long CSV or Parquet file with one row per cell:

- ``sex``: 1/2, M/F or male/female (the same coding as the cohort);
- ``age``: completed age in years; the value holds from that age to the next age listed;
- ``year`` (optional): calendar year; the value holds from 1 January of that year until the
  next year listed (a file without years, or with a single ``period``, is one table for all years);
- ``q`` (or ``qx``): the annual probability of death, or ``rate``: the annual hazard.

Internally the hazards are per day, with ``DAYS_PER_YEAR`` = 365.241 days per year of age (the
convention of R's relsurv), so ``hazard_per_day = -log(1 - q) / 365.241 = rate / 365.241``.
Outside the table's ages and years the nearest cell is used (as R's ratetables do); a hole inside
the grid is an error naming the missing cell.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from oncobase.errors import StatsError
from oncobase.stats._arrays import FloatArray, IntArray

__all__ = [
    "DAYS_PER_YEAR",
    "LifeTable",
    "build_lifetable",
    "normalise_sex",
    "read_lifetable",
    "to_epoch_days",
]

DAYS_PER_YEAR = 365.241

_SEX_CODES = {
    "1": 1,
    "m": 1,
    "male": 1,
    "h": 1,
    "homme": 1,
    "men": 1,
    "2": 2,
    "f": 2,
    "female": 2,
    "femme": 2,
    "women": 2,
}


@dataclass(frozen=True, kw_only=True)
class LifeTable:
    """Daily hazards on a (sex, age, year) grid; ages in years, years as calendar years."""

    sexes: tuple[int, ...]
    ages: FloatArray
    years: IntArray
    hazard: FloatArray  # shape (len(sexes), len(ages), len(years)); per day
    source: str = ""

    @property
    def age_cuts_days(self) -> FloatArray:
        """Age cut points in days (age × 365.241)."""
        return self.ages * DAYS_PER_YEAR

    @property
    def year_cuts_days(self) -> FloatArray:
        """1 January of each listed year, in days since 1970-01-01."""
        jan1 = np.array([f"{int(y):04d}-01-01" for y in self.years], dtype="datetime64[D]")
        return jan1.astype(np.int64).astype(np.float64)

    def sex_index(self, sex: npt.ArrayLike, *, column: str = "sex") -> npt.NDArray[np.intp]:
        """Position of each subject's sex in the table; raise naming the first row not found."""
        codes = normalise_sex(sex, column=column)
        lookup = np.full(3, -1, dtype=np.intp)
        for k, s in enumerate(self.sexes):
            lookup[s] = k
        idx = lookup[codes]
        bad = np.flatnonzero(idx < 0)
        if bad.size:
            raise StatsError(
                f"{column}: row {int(bad[0])} has sex {int(codes[bad[0]])}, which the life "
                f"table ({self.source or 'given'}) does not have"
            )
        return idx


def normalise_sex(values: npt.ArrayLike, *, column: str = "sex") -> npt.NDArray[np.intp]:
    """Map 1/2, M/F, male/female (any case) to 1 and 2; raise naming the first bad row."""
    raw = np.asarray(values)
    if raw.dtype.kind in "iuf":
        arr = raw.astype(np.float64)
        ok = np.isin(arr, (1.0, 2.0))
        if not ok.all():
            bad = int(np.flatnonzero(~ok)[0])
            raise StatsError(f"{column}: row {bad} has sex {raw[bad]!r}; use 1/2 or M/F")
        return arr.astype(np.intp)
    text = np.char.lower(np.char.strip(raw.astype(str)))
    uniq, inverse = np.unique(text, return_inverse=True)
    mapped = np.empty(uniq.size, dtype=np.intp)
    for k, u in enumerate(uniq):  # distinct labels only
        code = _SEX_CODES.get(str(u).removesuffix(".0"))
        if code is None:
            bad = int(np.flatnonzero(text == u)[0])
            raise StatsError(f"{column}: row {bad} has sex {raw[bad]!r}; use 1/2 or M/F")
        mapped[k] = code
    return mapped[inverse.reshape(-1)]


def to_epoch_days(year: npt.ArrayLike, *, column: str = "year") -> FloatArray:
    """Dates of diagnosis as days since 1970-01-01.

    Accepts dates (``datetime64``, ISO strings) or calendar years. Whole calendar years are
    placed at mid-year (2 July); fractional years are taken literally (2010.25 = 1 April).
    """
    raw = np.asarray(year)
    if raw.dtype.kind == "M":
        return raw.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    if raw.dtype.kind in "iuf":
        y = raw.astype(np.float64)
        bad = np.flatnonzero(~np.isfinite(y))
        if bad.size:
            raise StatsError(f"{column}: row {int(bad[0])} is missing")
        whole = np.all(y == np.floor(y))
        base = np.floor(y)
        frac = np.full_like(y, 0.5) if whole else y - base
        start = _jan1_days(base)
        length = _jan1_days(base + 1) - start
        return np.asarray(start + frac * length, dtype=np.float64)
    try:
        return raw.astype("datetime64[D]").astype(np.int64).astype(np.float64)
    except ValueError as exc:
        raise StatsError(f"{column}: not a date or calendar year ({exc})") from exc


def _jan1_days(years: FloatArray) -> FloatArray:
    y = years.astype(np.int64) - 1970
    return np.asarray(y, dtype="datetime64[Y]").astype("datetime64[D]").astype(np.float64)


def read_lifetable(path: str | Path, *, geo: str | None = None) -> LifeTable:
    """Read a long life-table file (CSV or Parquet); ``geo`` picks one area when a file has many."""
    p = Path(path)
    if not p.exists():
        raise StatsError(f"life table {p} not found")
    try:
        table = pq.read_table(p) if p.suffix.lower() == ".parquet" else pacsv.read_csv(p)
    except (pa.ArrowInvalid, OSError) as exc:
        raise StatsError(f"life table {p}: cannot read ({exc})") from exc
    return build_lifetable(table, geo=geo, source=p.name)


def build_lifetable(table: pa.Table, *, geo: str | None = None, source: str = "") -> LifeTable:
    """Build a :class:`LifeTable` from an Arrow table (see the module doc for its columns)."""
    names = {n.lower(): n for n in table.column_names}
    if "geo" in names:
        geos = pc.unique(table[names["geo"]]).to_pylist()
        if geo is None and len(geos) > 1:
            raise StatsError(f"life table {source}: several areas ({geos}); choose one with geo")
        if geo is not None:
            if geo not in geos:
                raise StatsError(f"life table {source}: no area {geo!r} (has {geos})")
            table = table.filter(pc.equal(table[names["geo"]], pa.scalar(geo)))
    for needed in ("sex", "age"):
        if needed not in names:
            raise StatsError(f"life table {source}: missing column {needed!r}")
    value_col = next((names[c] for c in ("q", "qx", "rate") if c in names), None)
    if value_col is None:
        raise StatsError(f"life table {source}: needs a column q (or qx) or rate")
    n = table.num_rows
    if n == 0:
        raise StatsError(f"life table {source}: no rows")
    sex = normalise_sex(table[names["sex"]].to_numpy(zero_copy_only=False))
    age = np.asarray(table[names["age"]].to_numpy(zero_copy_only=False), dtype=np.float64)
    value = np.asarray(table[value_col].to_numpy(zero_copy_only=False), dtype=np.float64)
    if "year" in names:
        year = np.asarray(table[names["year"]].to_numpy(zero_copy_only=False), dtype=np.int64)
    elif "period" in names:
        year = np.array([_first_year(str(v)) for v in table[names["period"]].to_pylist()])
    else:
        year = np.zeros(n, dtype=np.int64)
    bad = np.flatnonzero(~np.isfinite(value) | (value < 0))
    if bad.size:
        raise StatsError(f"life table {source}: row {int(bad[0])} has invalid {value_col}")
    if value_col != "rate" and value_col.lower() != "rate":
        over = np.flatnonzero(value >= 1)
        if over.size:
            raise StatsError(f"life table {source}: row {int(over[0])} has q >= 1")
        daily = -np.log1p(-value) / DAYS_PER_YEAR
    else:
        daily = value / DAYS_PER_YEAR
    sexes, si = np.unique(sex, return_inverse=True)
    ages, ai = np.unique(age, return_inverse=True)
    years, yi = np.unique(year, return_inverse=True)
    grid = np.full((sexes.size, ages.size, years.size), np.nan)
    flat = (si * ages.size + ai) * years.size + yi
    counts = np.bincount(flat, minlength=grid.size)
    dup = np.flatnonzero(counts > 1)
    if dup.size:
        s, a, y = np.unravel_index(dup[0], grid.shape)
        raise StatsError(
            f"life table {source}: cell sex={sexes[s]} age={ages[a]:g} year={years[y]} "
            "appears more than once"
        )
    grid.reshape(-1)[flat] = daily
    hole = np.argwhere(np.isnan(grid))
    if hole.size:
        s, a, y = hole[0]
        raise StatsError(
            f"life table {source}: missing cell sex={sexes[s]} age={ages[a]:g} year={years[y]}"
        )
    return LifeTable(
        sexes=tuple(int(s) for s in sexes), ages=ages, years=years, hazard=grid, source=source
    )


def _first_year(text: str) -> int:
    match = re.search(r"\d{4}", text)
    return int(match.group(0)) if match else 0
