"""Dates as int64 days since 1970-01-01, with vectorised calendar parts."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa

from oncobase.synth._params import IntArray

EPOCH = dt.date(1970, 1, 1)
DAYS_PER_YEAR = 365.2425


def to_days(day: dt.date) -> int:
    return (day - EPOCH).days


def year_start(year: int) -> int:
    return to_days(dt.date(year, 1, 1))


def split_days(days: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Year, month (1-12) and day (1-31) of each date."""
    d = days.astype("datetime64[D]")
    months = d.astype("datetime64[M]")
    year = months.astype("datetime64[Y]").astype(np.int64) + 1970
    month = months.astype(np.int64) % 12 + 1
    day = (d - months).astype(np.int64) + 1
    return year, month, day


def from_parts(year: IntArray, month: IntArray, day: IntArray) -> IntArray:
    """Days of (year, month, day); an impossible day is clipped to the month's last day."""
    months = (year - 1970) * 12 + (month - 1)
    first = months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    nxt = (months + 1).astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)
    return np.asarray(np.minimum(first + day - 1, nxt - 1), dtype=np.int64)


def age_in_years(birth: IntArray, on: IntArray) -> IntArray:
    """Completed years of age on a date."""
    by, bm, bd = split_days(birth)
    oy, om, od = split_days(on)
    before = (om < bm) | ((om == bm) & (od < bd))
    return np.asarray(oy - by - before.astype(np.int64), dtype=np.int64)


def to_arrow(days: IntArray, mask: np.ndarray | None = None) -> pa.Array:
    """Arrow date32 array (nulls where ``mask`` is true)."""
    return pa.array(days.astype(np.int32), type=pa.date32(), mask=mask)


def format_compact(days: IntArray) -> np.ndarray:
    """AAAAMMJJ strings."""
    y, m, d = split_days(days)
    return np.char.add(
        np.char.add(np.char.zfill(y.astype(str), 4), np.char.zfill(m.astype(str), 2)),
        np.char.zfill(d.astype(str), 2),
    )
