"""Crude and age-specific rates from counts and person-years."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from oncobase.errors import StatsError
from oncobase.stats._arrays import as_float_array, require_non_negative, same_length
from oncobase.stats._scipy import chi2_ppf

__all__ = ["CrudeRate", "compute_age_specific_rates", "compute_crude_rate"]


@dataclass(frozen=True, kw_only=True)
class CrudeRate:
    """Cases / person-years × ``multiplier`` with an exact Poisson CI."""

    cases: float
    person_years: float
    rate: float
    ci_lower: float
    ci_upper: float
    multiplier: float


def _poisson_ci(
    cases: npt.NDArray[np.float64], conf_level: float
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    alpha = 1.0 - conf_level
    lower = np.where(cases > 0, chi2_ppf(alpha / 2, 2 * cases) / 2, 0.0)
    upper = chi2_ppf(1 - alpha / 2, 2 * (cases + 1)) / 2
    return np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)


def compute_crude_rate(
    cases: npt.ArrayLike,
    person_years: npt.ArrayLike,
    *,
    conf_level: float = 0.95,
    multiplier: float = 100_000.0,
) -> CrudeRate:
    """Crude rate over all rows (sums of cases and person-years)."""
    c = as_float_array(cases, name="cases")
    py = as_float_array(person_years, name="person_years")
    same_length(cases=c, person_years=py)
    require_non_negative(c, name="cases")
    require_non_negative(py, name="person_years")
    total_c, total_py = float(c.sum()), float(py.sum())
    if total_py <= 0:
        raise StatsError("empty group: person-years sum to zero")
    lo, hi = _poisson_ci(np.array([total_c]), conf_level)
    return CrudeRate(
        cases=total_c,
        person_years=total_py,
        rate=total_c / total_py * multiplier,
        ci_lower=float(lo[0]) / total_py * multiplier,
        ci_upper=float(hi[0]) / total_py * multiplier,
        multiplier=multiplier,
    )


def compute_age_specific_rates(
    cases: npt.ArrayLike,
    person_years: npt.ArrayLike,
    *,
    age_groups: npt.ArrayLike,
    conf_level: float = 0.95,
    multiplier: float = 100_000.0,
) -> pa.Table:
    """One row per age group (rows with the same label summed): cases, person-years, rate, CI."""
    c = as_float_array(cases, name="cases")
    py = as_float_array(person_years, name="person_years")
    labels = np.asarray(age_groups).astype(str)
    same_length(cases=c, person_years=py, age_groups=labels)
    require_non_negative(c, name="cases")
    require_non_negative(py, name="person_years")
    if c.size == 0:
        raise StatsError("empty group: no rows")
    uniq, inv = np.unique(labels, return_inverse=True)
    inv = inv.reshape(-1)
    cg = np.bincount(inv, weights=c)
    pg = np.bincount(inv, weights=py)
    bad = np.flatnonzero((pg == 0) & (cg > 0))
    if bad.size:
        raise StatsError(f"age group {uniq[bad[0]]}: cases without person-years")
    safe = np.where(pg > 0, pg, 1.0)
    lo, hi = _poisson_ci(np.asarray(cg, dtype=np.float64), conf_level)
    order = np.argsort([_age_key(str(u)) for u in uniq], kind="stable")
    return pa.table(
        {
            "age_group": uniq[order].tolist(),
            "cases": pa.array(cg[order]),
            "person_years": pa.array(pg[order]),
            "rate": pa.array((cg / safe * multiplier)[order]),
            "ci_lower": pa.array((lo / safe * multiplier)[order]),
            "ci_upper": pa.array((hi / safe * multiplier)[order]),
        }
    )


def _age_key(label: str) -> float:
    head = label.strip().split("-")[0].rstrip("+").strip()
    try:
        return float(head)
    except ValueError:
        return float("inf")
