"""Complete and partial prevalence by the counting method at an index date."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from oncobase.errors import StatsError

__all__ = ["compute_prevalence"]


def _as_dates(values: npt.ArrayLike, *, name: str) -> npt.NDArray[np.datetime64]:
    try:
        return np.asarray(values).astype("datetime64[D]")
    except ValueError as exc:
        raise StatsError(f"{name}: not a date ({exc})") from exc


def compute_prevalence(
    diagnosis_date: npt.ArrayLike,
    end_date: npt.ArrayLike,
    *,
    index_date: str | np.datetime64,
    durations: tuple[int, ...] = (1, 5, 10),
    population: float | None = None,
) -> pa.Table:
    """Counting-method prevalence at ``index_date``.

    A person counts when diagnosed on or before the index date and alive on it (``end_date``,
    the date of death or of last news, is after it; a missing end date means alive). Partial
    prevalence at ``d`` years counts those diagnosed within ``d`` years before the index date;
    ``complete`` counts all. With ``population``, a proportion per 100,000 is added.
    """
    dx = _as_dates(diagnosis_date, name="diagnosis_date")
    end = _as_dates(end_date, name="end_date")
    if dx.size != end.size:
        raise StatsError("diagnosis_date and end_date differ in length")
    if dx.size == 0:
        raise StatsError("empty group: no patients")
    missing_dx = np.flatnonzero(np.isnat(dx))
    if missing_dx.size:
        raise StatsError(f"diagnosis_date: row {int(missing_dx[0])} is missing")
    bad = np.flatnonzero(~np.isnat(end) & (end < dx))
    if bad.size:
        raise StatsError(f"end_date: row {int(bad[0])} is before the diagnosis date")
    index = np.array([index_date], dtype="M8[D]")[0]
    alive = (dx <= index) & (np.isnat(end) | (end > index))
    labels: list[str] = []
    counts: list[int] = []
    for years in durations:  # a handful of durations
        start = np.array([f"{int(str(index)[:4]) - years}{str(index)[4:]}"], dtype="M8[D]")[0]
        labels.append(f"{years}-year")
        counts.append(int(np.sum(alive & (dx > start))))
    labels.append("complete")
    counts.append(int(alive.sum()))
    cols: dict[str, pa.Array[Any]] = {"measure": pa.array(labels), "count": pa.array(counts)}
    if population is not None:
        if population <= 0:
            raise StatsError("population must be positive")
        cols["per_100000"] = pa.array([c / population * 100_000 for c in counts])
    return pa.table(cols)
