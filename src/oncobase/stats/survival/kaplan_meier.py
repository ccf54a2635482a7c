"""Kaplan-Meier estimator with Greenwood variance, as ``survival::survfit`` computes it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oncobase.errors import StatsError
from oncobase.stats._arrays import (
    FloatArray,
    as_event_array,
    as_float_array,
    require_non_negative,
    same_length,
)
from oncobase.stats.survival._curve import SurvivalCurve, build_curve

__all__ = ["SurvivalQuantile", "estimate_km", "estimate_survival_quantile"]

_TOL = math.sqrt(np.finfo(np.float64).eps)


@dataclass(frozen=True, kw_only=True)
class SurvivalQuantile:
    """Time at which S(t) falls to 1 - ``prob`` (0.5: the median), with its CI; NaN if never."""

    prob: float
    quantile: float
    lower: float
    upper: float


def estimate_km(
    time: npt.ArrayLike,
    event: npt.ArrayLike,
    *,
    conf_type: str = "log",
    conf_level: float = 0.95,
) -> SurvivalCurve:
    """Kaplan-Meier curve at every distinct time (events and censorings).

    ``event`` is 1 for an event and 0 for a censoring (R's 1/2 coding is accepted). Greenwood's
    variance; CIs ``log`` (R's default), ``log-log`` or ``plain``.
    """
    t = as_float_array(time, name="time")
    e = as_event_array(event)
    same_length(time=t, event=e)
    if t.size == 0:
        raise StatsError("empty group: no subjects to estimate a survival curve")
    require_non_negative(t, name="time")
    uniq, inverse = np.unique(t, return_inverse=True)
    inverse = inverse.reshape(-1)
    n_exit = np.bincount(inverse, minlength=uniq.size).astype(np.float64)
    n_event = np.bincount(inverse, weights=e.astype(np.float64), minlength=uniq.size)
    n_risk = t.size - (np.cumsum(n_exit) - n_exit)
    surv = np.cumprod(1.0 - n_event / n_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    se_log = np.sqrt(np.cumsum(term))
    return build_curve(
        "km",
        time=uniq,
        n_risk=n_risk,
        n_event=n_event,
        n_exit=n_exit,
        surv=surv,
        se_log=se_log,
        conf_type=conf_type,
        conf_level=conf_level,
        clip=True,
    )


def _findq(x: FloatArray, y: FloatArray, p: float) -> float:
    """R's ``survival:::findq``: first time the cumulative distribution ``y`` reaches ``p``,
    the midpoint of a flat stretch when it reaches it exactly (within tolerance)."""
    xmax = float(x[-1])
    ok = ~np.isnan(y)
    x, y = x[ok], y[ok]
    if y.size == 0 or float(y.max()) < p:
        return math.nan
    _, first = np.unique(y, return_index=True)
    first.sort()
    x, y = x[first], y[first]
    i1 = np.flatnonzero(y + _TOL >= p)
    i2 = np.flatnonzero(y - _TOL >= p)
    if p == 0:
        return float(x[0])
    if abs(p - float(y[-1])) < _TOL and i1.size:
        return (float(x[i1[0]]) + xmax) / 2
    if i1.size == 0 or i2.size == 0:
        return math.nan
    return (float(x[i1[0]]) + float(x[i2[0]])) / 2


def estimate_survival_quantile(curve: SurvivalCurve, *, prob: float = 0.5) -> SurvivalQuantile:
    """Survival time quantile with its CI read off the confidence band (as R's
    ``quantile.survfit``, Brookmeyer-Crowley style); ``prob=0.5`` gives the median."""
    if not 0 <= prob <= 1:
        raise StatsError(f"prob must lie in [0, 1], got {prob}")
    x = np.concatenate([[0.0], curve.time])
    return SurvivalQuantile(
        prob=prob,
        quantile=_findq(x, np.concatenate([[0.0], 1 - curve.surv]), prob),
        lower=_findq(x, np.concatenate([[0.0], 1 - curve.lower]), prob),
        upper=_findq(x, np.concatenate([[0.0], 1 - curve.upper]), prob),
    )
