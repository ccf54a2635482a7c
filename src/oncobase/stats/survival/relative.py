"""Relative survival by the Ederer I and Ederer II methods (as ``relsurv::rs.surv``).

- Ederer II: dΛ(tⱼ) = (dⱼ − Σ_{Rⱼ} ΔΛ*ᵢ(tⱼ)) / nⱼ over the subjects still at risk;
  S = Π (1 − dΛ), Var log S = Σ dⱼ/nⱼ².
- Ederer I: the observed Kaplan-Meier-type product Π (1 − dⱼ/nⱼ) divided by the expected
  survival of the whole cohort, mean of S*ᵢ(t) over every subject as if followed throughout.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from oncobase.stats.lifetable import LifeTable
from oncobase.stats.survival._cohort import make_cohort
from oncobase.stats.survival._curve import SurvivalCurve, build_curve, count_on_grid
from oncobase.stats.survival._expected import (
    build_segments,
    sum_cumulative_on_grid,
    sum_exp_on_grid,
)

__all__ = ["estimate_ederer1", "estimate_ederer2"]


def estimate_ederer2(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    age: npt.ArrayLike,
    sex: npt.ArrayLike,
    year: npt.ArrayLike,
    lifetable: LifeTable,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> SurvivalCurve:
    """Ederer II relative survival (same inputs as :func:`estimate_pohar_perme`)."""
    c = make_cohort(time, event, age=age, sex=sex, year=year, lifetable=lifetable)
    grid = np.unique(c.time)
    g = grid.size
    seg = build_segments(
        lifetable,
        sex_index=c.sex_index,
        age_days=c.age_days,
        date_days=c.date_days,
        end=c.time,
        snap_grid=grid,
    )
    cum_now = sum_cumulative_on_grid(seg, grid)
    jx = np.searchsorted(grid, c.time)
    exit_cum = np.bincount(jx, weights=seg.cumulative_at_stop(), minlength=g)
    cum_prev = np.zeros(g)
    cum_prev[1:] = cum_now[:-1] - exit_cum[:-1]
    expected = cum_now - cum_prev
    n_exit, n_event, n_risk = count_on_grid(jx, c.event.astype(np.float64), g)
    haz = (n_event - expected) / n_risk
    surv = np.cumprod(1.0 - haz)
    se_log = np.sqrt(np.cumsum(n_event / n_risk**2))
    return build_curve(
        "ederer2",
        time=grid,
        n_risk=n_risk,
        n_event=n_event,
        n_exit=n_exit,
        surv=surv,
        se_log=se_log,
        conf_type=conf_type,
        conf_level=conf_level,
        clip=False,
    )


def estimate_ederer1(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    age: npt.ArrayLike,
    sex: npt.ArrayLike,
    year: npt.ArrayLike,
    lifetable: LifeTable,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> SurvivalCurve:
    """Ederer I relative survival (same inputs as :func:`estimate_pohar_perme`)."""
    c = make_cohort(time, event, age=age, sex=sex, year=year, lifetable=lifetable)
    grid = np.unique(c.time)
    g = grid.size
    horizon = np.full(c.time.size, grid[-1])
    seg = build_segments(
        lifetable, sex_index=c.sex_index, age_days=c.age_days, date_days=c.date_days, end=horizon
    )
    expected = sum_exp_on_grid(seg, grid, sign=-1.0)[0] / c.time.size
    jx = np.searchsorted(grid, c.time)
    n_exit, n_event, n_risk = count_on_grid(jx, c.event.astype(np.float64), g)
    surv = np.cumprod(1.0 - n_event / n_risk) / expected
    se_log = np.sqrt(np.cumsum(n_event / n_risk**2))
    return build_curve(
        "ederer1",
        time=grid,
        n_risk=n_risk,
        n_event=n_event,
        n_exit=n_exit,
        surv=surv,
        se_log=se_log,
        conf_type=conf_type,
        conf_level=conf_level,
        clip=False,
    )
