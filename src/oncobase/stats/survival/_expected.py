"""Expected (population) cumulative hazards of a cohort, summed on a time grid, vectorised.

Each subject's expected cumulative hazard Λᵢ(t) is piecewise linear in follow-up time ``t``
(days): the daily hazard changes only when the subject's age or calendar date crosses a cut of
the life table. We cut every subject's follow-up into those pieces ("segments") once, then sum
over subjects on the grid of follow-up times without any per-subject Python loop:

- Σᵢ exp(±Λᵢ(tⱼ)) for the subjects at risk at each grid time tⱼ: within a piece of constant
  hazard λ, exp(Λ(t)) = exp(Λ(s) − λs)·exp(λt), so the pieces sharing a life-table cell add up
  through one difference array per cell (``np.bincount``) and one ``exp(λ·t)`` row per cell;
- Σᵢ Λᵢ(tⱼ): the same with linear terms, one difference array in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from oncobase.stats._arrays import FloatArray, IntArray
from oncobase.stats.lifetable import LifeTable

_CHUNK_CELLS_BY_GRID = 4_000_000  # entries of the (cells × grid) matrix built at once


@dataclass(frozen=True, kw_only=True)
class Segments:
    """Pieces of follow-up with constant expected hazard, grouped by subject."""

    subject: IntArray
    start: FloatArray
    stop: FloatArray
    hazard: FloatArray  # per day
    cum_start: FloatArray  # Λ at ``start``
    cell: IntArray  # flat life-table cell
    n_subjects: int
    cell_id: IntArray  # dense index of the cell among the cells used
    cell_rate: FloatArray  # hazard of each used cell

    def cumulative_at_stop(self) -> FloatArray:
        """Λᵢ at the end of each subject's follow-up."""
        return np.bincount(
            self.subject, weights=self.hazard * (self.stop - self.start), minlength=self.n_subjects
        )

    def cumulative_at(self, t: FloatArray) -> FloatArray:
        """Λᵢ(tᵢ) for one time per subject (within the subject's follow-up)."""
        overlap = np.clip(np.minimum(self.stop, t[self.subject]) - self.start, 0.0, None)
        return np.bincount(self.subject, weights=self.hazard * overlap, minlength=self.n_subjects)


def _crossings(
    cuts: FloatArray, origin: FloatArray, end: FloatArray
) -> tuple[IntArray, FloatArray]:
    """Subjects and follow-up times where ``origin + t`` crosses a cut strictly inside (0, end)."""
    lo = np.searchsorted(cuts, origin, side="right")
    hi = np.searchsorted(cuts, origin + end, side="left")
    count = np.maximum(hi - lo, 0)
    total = int(count.sum())
    subj = np.repeat(np.arange(origin.size, dtype=np.int64), count)
    first = np.cumsum(count) - count
    k = np.arange(total, dtype=np.int64) - np.repeat(first, count) + np.repeat(lo, count)
    return subj, cuts[k] - origin[subj]


def build_segments(
    table: LifeTable,
    *,
    sex_index: IntArray,
    age_days: FloatArray,
    date_days: FloatArray,
    end: FloatArray,
    snap_grid: FloatArray | None = None,
    step: float = 1.0,
) -> Segments:
    """Cut each subject's follow-up [0, end] at the life table's age and year cuts.

    With ``snap_grid`` (the sorted follow-up times), a change of hazard takes effect at the first
    ``step``-day mark counted from the previous grid time, as in relsurv's one-day integration.
    """
    n = end.size
    age_cuts = table.age_cuts_days
    year_cuts = table.year_cuts_days
    s_age, t_age = _crossings(age_cuts, age_days, end)
    s_year, t_year = _crossings(year_cuts, date_days, end)
    if snap_grid is not None:
        t_age = _snap(t_age, snap_grid, step)
        t_year = _snap(t_year, snap_grid, step)
    subj = np.concatenate([np.arange(n, dtype=np.int64), s_age, s_year])
    t = np.concatenate([np.zeros(n), t_age, t_year])
    span = float(end.max()) + 1.0 if n else 1.0
    order = np.argsort(subj * span + t, kind="stable")
    subj = subj[order]
    start = t[order]
    stop = np.empty_like(start)
    stop[:-1] = start[1:]
    last = np.ones(subj.size, dtype=bool)
    last[:-1] = subj[1:] != subj[:-1]
    stop[last] = end[subj[last]]
    mid = 0.5 * (start + stop)
    n_age, n_year = age_cuts.size, year_cuts.size
    ai = np.clip(np.searchsorted(age_cuts, age_days[subj] + mid, side="right") - 1, 0, n_age - 1)
    yi = np.clip(np.searchsorted(year_cuts, date_days[subj] + mid, side="right") - 1, 0, n_year - 1)
    cell = (sex_index[subj] * n_age + ai) * n_year + yi
    hazard = table.hazard.reshape(-1)[cell]
    piece = hazard * (stop - start)
    cum = np.cumsum(piece) - piece
    first_of_subject = np.ones(subj.size, dtype=bool)
    first_of_subject[1:] = subj[1:] != subj[:-1]
    base = np.maximum.accumulate(np.where(first_of_subject, np.arange(subj.size), 0))
    cum_start = cum - cum[base]
    present = np.bincount(cell, minlength=table.hazard.size) > 0
    dense = np.cumsum(present) - 1
    return Segments(
        cell_id=dense[cell],
        cell_rate=table.hazard.reshape(-1)[present],
        subject=subj,
        start=start,
        stop=stop,
        hazard=hazard,
        cum_start=cum_start,
        cell=cell.astype(np.int64),
        n_subjects=n,
    )


def _snap(c: FloatArray, grid: FloatArray, step: float) -> FloatArray:
    j = np.clip(np.searchsorted(grid, c, side="left"), 0, grid.size - 1)
    prev = np.where(j > 0, grid[np.maximum(j - 1, 0)], 0.0)
    marks = prev + np.ceil((c - prev) / step - 1e-9) * step
    return np.minimum(marks, grid[j])


def fast_searchsorted(grid: FloatArray, x: FloatArray, side: str) -> IntArray:
    """``np.searchsorted`` for many queries; a lookup table when the grid is whole days."""
    if grid.size and grid[0] >= 0 and grid[-1] < 5e7 and np.all(grid == np.floor(grid)):
        top = int(grid[-1]) + 2
        right = np.searchsorted(grid, np.arange(top), side="right")
        left = np.searchsorted(grid, np.arange(top), side="left")
        xc = np.clip(x, -1, top - 1)
        fl = np.floor(xc).astype(np.int64)
        below = fl < 0
        fl = np.maximum(fl, 0)
        r = right[fl]
        out = r if side == "right" else np.where(xc == fl, left[fl], r)
        beyond = np.searchsorted(grid, x, side=side)  # type: ignore[call-overload]
        return np.asarray(np.where(below, 0, np.where(x >= top - 1, beyond, out)), dtype=np.int64)
    found = np.searchsorted(grid, x, side=side)  # type: ignore[call-overload]
    return np.asarray(found, dtype=np.int64)


def _grid_span(
    seg: Segments, grid: FloatArray, entry: FloatArray | None, closed: str
) -> tuple[IntArray, IntArray]:
    """Grid indices [j0, j1) of the times tⱼ in (lo, stop] (``closed="right"``) or [lo, stop)
    (``closed="left"``), lo = max(start, entry)."""
    lo = seg.start if entry is None else np.maximum(seg.start, entry[seg.subject])
    side: Literal["left", "right"] = "right" if closed == "right" else "left"
    j0 = fast_searchsorted(grid, lo, side)
    j1 = fast_searchsorted(grid, seg.stop, side)
    return j0, j1


def sum_exp_on_grid(
    seg: Segments,
    grid: FloatArray,
    *,
    sign: float = 1.0,
    entry: FloatArray | None = None,
    closed: str = "right",
) -> tuple[FloatArray, FloatArray]:
    """Σ exp(sign · Λᵢ(tⱼ)) and Σ λᵢ(tⱼ) · exp(sign · Λᵢ(tⱼ)) over the subjects at risk at tⱼ.

    At risk: entry < tⱼ <= end (``closed="right"``; λ is the hazard just before tⱼ) or
    entry <= tⱼ < end (``closed="left"``; λ is the hazard just after tⱼ).
    """
    g = grid.size
    out = np.zeros(g)
    out_w = np.zeros(g)
    j0, j1 = _grid_span(seg, grid, entry, closed)
    keep = j1 > j0
    if not keep.any():
        return out, out_w
    j0, j1 = j0[keep], j1[keep]
    lam = seg.hazard[keep]
    coef = np.exp(sign * (seg.cum_start[keep] - lam * seg.start[keep]))
    cid = seg.cell_id[keep]
    cell_rate = seg.cell_rate
    used = cell_rate
    width = g + 1
    step = max(1, _CHUNK_CELLS_BY_GRID // width)
    for c0 in range(0, used.size, step):  # a few chunks of life-table cells, not subjects
        c1 = min(used.size, c0 + step)
        sel = (cid >= c0) & (cid < c1)
        local = cid[sel] - c0
        nc = c1 - c0
        idx = np.concatenate([local * width + j0[sel], local * width + j1[sel]])
        wts = np.concatenate([coef[sel], -coef[sel]])
        diff = np.bincount(idx, weights=wts, minlength=nc * width).reshape(nc, width)
        level = np.cumsum(diff, axis=1)[:, :g]
        rates = cell_rate[c0:c1]
        term = level * np.exp(sign * np.outer(rates, grid))
        out += term.sum(axis=0)
        out_w += rates @ term
    return out, out_w


def sum_cumulative_on_grid(
    seg: Segments, grid: FloatArray, *, entry: FloatArray | None = None
) -> FloatArray:
    """Σ over subjects at risk at tⱼ of Λᵢ(tⱼ)."""
    g = grid.size
    j0, j1 = _grid_span(seg, grid, entry, "right")
    keep = j1 > j0
    j0, j1 = j0[keep], j1[keep]
    lam = seg.hazard[keep]
    intercept = seg.cum_start[keep] - lam * seg.start[keep]
    a = np.bincount(j0, weights=intercept, minlength=g + 1) - np.bincount(
        j1, weights=intercept, minlength=g + 1
    )
    b = np.bincount(j0, weights=lam, minlength=g + 1) - np.bincount(
        j1, weights=lam, minlength=g + 1
    )
    return np.asarray(np.cumsum(a)[:g] + grid * np.cumsum(b)[:g], dtype=np.float64)
