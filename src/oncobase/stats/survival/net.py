"""Net survival by the Pohar-Perme estimator (cohort and period approaches), age-standardised
with the ICSS weights. Same estimator as ``relsurv::rs.surv(method = "pohar-perme")``.

At each distinct follow-up time tⱼ, with weights 1/S*ᵢ(t) (S*ᵢ the subject's expected survival
from the life table since diagnosis) over the risk set Rⱼ:

    dΛ_E(tⱼ) = Σ dNᵢ(tⱼ)/S*ᵢ(tⱼ) / Σ 1/S*ᵢ(tⱼ) − ∫ Σ λ*ᵢ(u)/S*ᵢ(u) / Σ 1/S*ᵢ(u) du,

the integral running over (tⱼ₋₁, tⱼ] for the subjects of Rⱼ. Because λ*/S* = d(1/S*)/du, that
integral is exactly log Σ 1/S*ᵢ(tⱼ) − log Σ 1/S*ᵢ(tⱼ₋₁) (relsurv approximates it by a
trapezoid on one-day steps). S_net = Π (1 − dΛ_E); Var log S_net = Σ Σ dNᵢ/S*ᵢ² / (Σ 1/S*ᵢ)².
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from oncobase.errors import StatsError
from oncobase.stats._arrays import FloatArray, as_float_array
from oncobase.stats.lifetable import LifeTable, to_epoch_days
from oncobase.stats.standardise import load_standard_population
from oncobase.stats.survival._cohort import Cohort, make_cohort
from oncobase.stats.survival._curve import SurvivalCurve, build_curve, confidence_band
from oncobase.stats.survival._expected import Segments, build_segments, sum_exp_on_grid

_STEP = 1.0  # days: relsurv's default precision

__all__ = [
    "estimate_age_standardised_net_survival",
    "estimate_pohar_perme",
    "estimate_pohar_perme_period",
]


def estimate_pohar_perme(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    age: npt.ArrayLike,
    sex: npt.ArrayLike,
    year: npt.ArrayLike,
    lifetable: LifeTable,
    entry: npt.ArrayLike | None = None,
    conf_type: str = "log",
    conf_level: float = 0.95,
    integration: str = "relsurv",
) -> SurvivalCurve:
    """Pohar-Perme net survival.

    ``time`` is follow-up in days since diagnosis, ``age`` the age at diagnosis in years,
    ``year`` the date of diagnosis (or calendar year, placed at mid-year), ``sex`` coded as in
    ``lifetable``. ``entry`` (days since diagnosis, optional) delays entry into the risk set:
    the period approach uses it (see :func:`estimate_pohar_perme_period`).

    ``integration="relsurv"`` (default) integrates the population hazard as relsurv does
    (one-day steps, trapezoid of running means, hazard changes at day marks), which gives
    relsurv's numbers; ``"exact"`` uses the closed form log Σ 1/S*(tⱼ) − log Σ 1/S*(tⱼ₋₁).
    """
    if integration not in ("relsurv", "exact"):
        raise StatsError(f"integration must be 'relsurv' or 'exact', got {integration!r}")
    cohort = make_cohort(time, event, age=age, sex=sex, year=year, lifetable=lifetable)
    ent = None if entry is None else as_float_array(entry, name="entry")
    return _pohar_perme(
        cohort,
        lifetable,
        ent,
        conf_type=conf_type,
        conf_level=conf_level,
        integration=integration,
    )


def _risk_counts(
    grid: FloatArray, jx: npt.NDArray[np.intp], entry: FloatArray | None
) -> FloatArray:
    g = grid.size
    at_or_after = np.cumsum(np.bincount(jx, minlength=g)[::-1])[::-1].astype(np.float64)
    if entry is None:
        return at_or_after
    je = np.searchsorted(grid, entry, side="right") - 1  # last grid time <= entry
    inside = je >= 0
    not_yet = np.cumsum(np.bincount(je[inside], minlength=g)[::-1])[::-1]
    return at_or_after - not_yet


def _pohar_perme(
    cohort: Cohort,
    lifetable: LifeTable,
    entry: FloatArray | None,
    *,
    conf_type: str,
    conf_level: float,
    integration: str = "relsurv",
) -> SurvivalCurve:
    t = cohort.time
    if entry is not None:
        bad = np.flatnonzero((entry < 0) | (entry >= t))
        if bad.size:
            raise StatsError(f"entry: row {int(bad[0])} does not lie in [0, time)")
        grid = np.unique(np.concatenate([t, entry[entry > 0]]))
    else:
        grid = np.unique(t)
    g = grid.size
    seg = build_segments(
        lifetable,
        sex_index=cohort.sex_index,
        age_days=cohort.age_days,
        date_days=cohort.date_days,
        end=t,
        snap_grid=grid if integration == "relsurv" else None,
    )
    relsurv_integral = None
    if integration == "relsurv":
        relsurv_integral, yisi = _relsurv_integral(seg, grid, entry)
    else:
        yisi = sum_exp_on_grid(seg, grid, sign=1.0, entry=entry)[0]
    inv_s_exit = np.exp(seg.cumulative_at_stop())
    jx = np.searchsorted(grid, t)
    ev = cohort.event.astype(np.float64)
    n_exit = np.bincount(jx, minlength=g).astype(np.float64)
    n_event = np.bincount(jx, weights=ev, minlength=g)
    dnisi = np.bincount(jx, weights=ev * inv_s_exit, minlength=g)
    dnisisq = np.bincount(jx, weights=ev * inv_s_exit**2, minlength=g)
    exit_sum = np.bincount(jx, weights=inv_s_exit, minlength=g)
    # Σ 1/S* at the previous grid time over the subjects at risk now:
    yisitt = np.zeros(g)
    yisitt[1:] = yisi[:-1] - exit_sum[:-1]
    if entry is None:
        yisitt[0] = t.size
    else:
        inv_s_entry = np.exp(seg.cumulative_at(entry))
        later = entry > 0
        yisitt[0] += float(np.sum(~later))
        k = np.searchsorted(grid, entry[later]) + 1
        yisitt += np.bincount(k, weights=inv_s_entry[later], minlength=g + 1)[:g]
    n_risk = _risk_counts(grid, jx, entry)
    with np.errstate(divide="ignore", invalid="ignore"):
        if relsurv_integral is not None:
            expected = relsurv_integral
        else:
            expected = np.log(yisi) - np.log(yisitt)
        haz = np.where(yisi > 0, dnisi / yisi - expected, 0.0)
        var_terms = np.where(yisi > 0, dnisisq / yisi**2, 0.0)
    surv = np.cumprod(1.0 - haz)
    se_log = np.sqrt(np.cumsum(var_terms))
    return build_curve(
        "pohar-perme",
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


def _relsurv_integral(
    seg: Segments, grid: FloatArray, entry: FloatArray | None
) -> tuple[FloatArray, FloatArray]:
    """relsurv's integral of the weighted population hazard over each (tⱼ₋₁, tⱼ]: one-day steps,
    trapezoid between the running means of Σλ/S* ÷ Σ1/S* at the steps' starts and ends.
    Also returns Σ 1/S*(tⱼ) over the risk set (the value at each interval's last step end)."""
    prev = np.concatenate([[0.0], grid[:-1]])
    n_steps = np.maximum(np.ceil((grid - prev) / _STEP - 1e-9), 1).astype(np.int64)
    interval = np.repeat(np.arange(grid.size), n_steps)
    first = np.cumsum(n_steps) - n_steps
    k = np.arange(interval.size) - first[interval]
    starts = prev[interval] + k * _STEP
    ends = np.minimum(starts + _STEP, grid[interval])
    p_s, q_s = sum_exp_on_grid(seg, starts, entry=entry, closed="left")
    p_e, q_e = sum_exp_on_grid(seg, ends, entry=entry, closed="right")

    def running(values: FloatArray) -> FloatArray:
        total = np.cumsum(values)
        offset = np.concatenate([[0.0], total])[first]
        return np.asarray(total - offset[interval], dtype=np.float64)

    with np.errstate(divide="ignore", invalid="ignore"):
        mean_s = np.where(p_s > 0, running(q_s) / running(p_s), 0.0)
        mean_e = np.where(p_e > 0, running(q_e) / running(p_e), 0.0)
    contrib = (mean_s + mean_e) / 2 * (ends - starts)
    last = np.cumsum(n_steps) - 1
    return np.bincount(interval, weights=contrib, minlength=grid.size), p_e[last]


def estimate_pohar_perme_period(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    age: npt.ArrayLike,
    sex: npt.ArrayLike,
    year: npt.ArrayLike,
    lifetable: LifeTable,
    period_start: str | np.datetime64,
    period_end: str | np.datetime64,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> SurvivalCurve:
    """Period-approach Pohar-Perme: only the follow-up lived in [period_start, period_end)
    counts (delayed entry at the period start, censoring at its end); expected survival still
    runs from diagnosis. ``year`` must be the date of diagnosis."""
    t = as_float_array(time, name="time")
    diag = to_epoch_days(np.asarray(year))
    bounds = to_epoch_days(np.array([period_start, period_end], dtype="M8[D]"))
    p0, p1 = float(bounds[0]), float(bounds[1])
    if p1 <= p0:
        raise StatsError("period_end must come after period_start")
    entry = np.maximum(0.0, p0 - diag)
    stop = np.minimum(t, p1 - diag)
    keep = stop > entry
    if not keep.any():
        raise StatsError("empty group: no follow-up falls inside the period")
    ev = np.asarray(event)
    ev_in = np.where(t <= p1 - diag, ev, 0)
    cohort = make_cohort(
        stop[keep],
        ev_in[keep],
        age=np.asarray(age)[keep],
        sex=np.asarray(sex)[keep],
        year=np.asarray(year)[keep],
        lifetable=lifetable,
    )
    return _pohar_perme(cohort, lifetable, entry[keep], conf_type=conf_type, conf_level=conf_level)


def estimate_age_standardised_net_survival(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    age: npt.ArrayLike,
    sex: npt.ArrayLike,
    year: npt.ArrayLike,
    lifetable: LifeTable,
    times: npt.ArrayLike,
    standard: str = "icss1",
    conf_level: float = 0.95,
) -> pa.Table:
    """Age-standardised net survival: Pohar-Perme in each ICSS age group (15-44, 45-54, 55-64,
    65-74, 75+), weighted by the standard; Var = Σ wₖ² Varₖ; log-scale CI."""
    std = load_standard_population(standard)
    a = as_float_array(age, name="age")
    young = np.flatnonzero(a < std.age_min[0])
    if young.size:
        raise StatsError(
            f"age: row {int(young[0])} is {a[young[0]]:g}, below the {std.name} standard's "
            f"first age ({std.age_min[0]:g})"
        )
    group = np.searchsorted(std.age_min, a, side="right") - 1
    t_arr, e_arr = np.asarray(time), np.asarray(event)
    s_arr, y_arr = np.asarray(sex), np.asarray(year)
    req = as_float_array(times, name="times")
    w = std.weights / std.weights.sum()
    est = np.zeros(req.size)
    var = np.zeros(req.size)
    for k, label in enumerate(std.age_groups):  # five age groups
        mask = group == k
        if not mask.any():
            raise StatsError(f"empty group: no patient in age group {label} of {std.name}")
        curve = estimate_pohar_perme(
            t_arr[mask],
            e_arr[mask],
            age=a[mask],
            sex=s_arr[mask],
            year=y_arr[mask],
            lifetable=lifetable,
        )
        at = curve.at(req)
        est += w[k] * at["estimate"].to_numpy()
        var += (w[k] * at["std_err"].to_numpy()) ** 2
    se = np.sqrt(var)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_log = se / est
    lower, upper = confidence_band(est, se_log, conf_type="log", conf_level=conf_level, clip=False)
    return pa.table(
        {
            "time": pa.array(req),
            "estimate": pa.array(est),
            "std_err": pa.array(se),
            "ci_lower": pa.array(lower),
            "ci_upper": pa.array(upper),
        }
    )
