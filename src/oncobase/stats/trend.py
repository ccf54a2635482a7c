"""Annual percent change (APC) by log-linear Poisson regression: log E[cases] = a + b·year +
log(person-years); APC = 100·(exp(b) − 1), CI from the Wald interval of b."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from oncobase.errors import StatsError
from oncobase.stats._arrays import as_float_array, require_non_negative, same_length
from oncobase.stats._scipy import norm_ppf, norm_sf

__all__ = ["ApcResult", "estimate_apc"]


@dataclass(frozen=True, kw_only=True)
class ApcResult:
    """Annual percent change with its CI and the slope it comes from."""

    apc: float
    ci_lower: float
    ci_upper: float
    slope: float
    slope_std_err: float
    p_value: float
    n_years: int


def estimate_apc(
    year: npt.ArrayLike,
    cases: npt.ArrayLike,
    *,
    person_years: npt.ArrayLike | None = None,
    conf_level: float = 0.95,
    max_iter: int = 50,
) -> ApcResult:
    """Fit the Poisson log-linear model by iteratively reweighted least squares."""
    x = as_float_array(year, name="year")
    y = as_float_array(cases, name="cases")
    py = (
        np.ones_like(y)
        if person_years is None
        else as_float_array(person_years, name="person_years")
    )
    same_length(year=x, cases=y, person_years=py)
    require_non_negative(y, name="cases")
    bad = np.flatnonzero(py <= 0)
    if bad.size:
        raise StatsError(f"person_years: row {int(bad[0])} is not positive")
    if np.unique(x).size < 2:
        raise StatsError("a trend needs at least two distinct years")
    if y.sum() <= 0:
        raise StatsError("empty group: no cases")
    xc = x - x.mean()
    design = np.column_stack([np.ones_like(xc), xc])
    offset = np.log(py)
    beta = np.array([math.log(y.sum() / py.sum()), 0.0])
    for _ in range(max_iter):
        mu = np.exp(design @ beta + offset)
        z = design @ beta + (y - mu) / mu
        info = design.T @ (design * mu[:, None])
        new = np.linalg.solve(info, design.T @ (mu * z))
        done = np.max(np.abs(new - beta)) < 1e-12
        beta = new
        if done:
            break
    mu = np.exp(design @ beta + offset)
    cov = np.linalg.inv(design.T @ (design * mu[:, None]))
    b, se = float(beta[1]), float(math.sqrt(cov[1, 1]))
    zq = norm_ppf(1 - (1 - conf_level) / 2)
    return ApcResult(
        apc=100 * math.expm1(b),
        ci_lower=100 * math.expm1(b - zq * se),
        ci_upper=100 * math.expm1(b + zq * se),
        slope=b,
        slope_std_err=se,
        p_value=2 * norm_sf(abs(b) / se),
        n_years=int(np.unique(x).size),
    )
