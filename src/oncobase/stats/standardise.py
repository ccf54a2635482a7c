"""Direct age standardisation: ASR with Fay-Feuer gamma CIs, truncated ASR, cumulative risk, SIR.

The standard populations (ESP 2013, ESP 1976, World Segi-Doll, ICSS 1-3) ship with the package in
``stats/data/standard_populations.csv``, written from their public definitions.
"""

from __future__ import annotations

import csv
import math
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt

from oncobase.errors import StatsError
from oncobase.stats._arrays import FloatArray, as_float_array, require_non_negative, same_length
from oncobase.stats._scipy import chi2_ppf, gamma_ppf

__all__ = [
    "STANDARDS",
    "AsrResult",
    "CumulativeRisk",
    "SirResult",
    "StandardPopulation",
    "compute_asr",
    "compute_cumulative_risk",
    "compute_sir",
    "compute_truncated_asr",
    "load_standard_population",
    "normalise_age_group",
]

#: Accepted names (lower case) and the standard each one means.
STANDARDS: dict[str, str] = {
    "esp2013": "ESP2013",
    "esp1976": "ESP1976",
    "world": "WORLD",
    "segi": "WORLD",
    "icss1": "ICSS1",
    "icss2": "ICSS2",
    "icss3": "ICSS3",
}

PER_100000 = 100_000.0


@dataclass(frozen=True, kw_only=True)
class StandardPopulation:
    """A standard population: age groups, their bounds (years) and weights per 100,000."""

    name: str
    age_groups: tuple[str, ...]
    age_min: FloatArray
    age_max: FloatArray  # inclusive upper bound; inf for the open group
    weights: FloatArray

    def index_of(self, labels: npt.ArrayLike, *, column: str = "age_group") -> npt.NDArray[np.intp]:
        """Position of each label among the standard's groups; raise on the first unknown one."""
        lookup = {g: i for i, g in enumerate(self.age_groups)}
        raw = np.asarray(labels).astype(str)
        uniq, inverse = np.unique(raw, return_inverse=True)
        pos = np.empty(uniq.size, dtype=np.intp)
        for k, label in enumerate(uniq):  # loop over distinct labels (at most a few dozen)
            found = lookup.get(normalise_age_group(label))
            if found is None:
                row = int(np.flatnonzero(raw == label)[0])
                raise StatsError(
                    f"{column}: row {row} has unknown age group {str(label)!r} for standard "
                    f"{self.name} (expected one of {', '.join(self.age_groups)})"
                )
            pos[k] = found
        return pos[inverse.reshape(-1)]


@dataclass(frozen=True, kw_only=True)
class AsrResult:
    """Crude and age-standardised rates per ``multiplier`` person-years, with a gamma CI."""

    standard: str
    cases: float
    person_years: float
    crude_rate: float
    asr: float
    ci_lower: float
    ci_upper: float
    conf_level: float
    multiplier: float


@dataclass(frozen=True, kw_only=True)
class CumulativeRisk:
    """Cumulative rate (sum of 5-year age-specific rates × width) and risk in percent."""

    upper_age: int
    cumulative_rate: float
    risk_percent: float


@dataclass(frozen=True, kw_only=True)
class SirResult:
    """Standardised incidence ratio with an exact Poisson CI."""

    observed: float
    expected: float
    sir: float
    ci_lower: float
    ci_upper: float
    conf_level: float


_GROUP_RE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)|\+)\s*$")


def normalise_age_group(label: str) -> str:
    """Canonical age-group label: ``"05-09"`` → ``"5-9"``, ``"85 +"`` → ``"85+"``."""
    match = _GROUP_RE.match(label)
    if match is None:
        return label.strip()
    lo, hi = match.groups()
    return f"{int(lo)}-{int(hi)}" if hi is not None else f"{int(lo)}+"


@cache
def load_standard_population(name: str) -> StandardPopulation:
    """Load a shipped standard: ``esp2013``, ``esp1976``, ``world`` (Segi-Doll) or ``icss1..3``."""
    key = STANDARDS.get(name.strip().lower())
    if key is None:
        raise StatsError(f"unknown standard {name!r}; choose one of {', '.join(sorted(STANDARDS))}")
    text = (
        resources.files("oncobase.stats")
        .joinpath("data/standard_populations.csv")
        .read_text(encoding="utf-8")
    )
    lines = [line for line in text.splitlines() if not line.startswith("#")]
    rows = list(csv.DictReader(lines))
    mine = [r for r in rows if r["standard"] == key]
    return StandardPopulation(
        name=key,
        age_groups=tuple(r["age_group"] for r in mine),
        age_min=np.array([float(r["age_min"]) for r in mine]),
        age_max=np.array([float(r["age_max"]) if r["age_max"] else math.inf for r in mine]),
        weights=np.array([float(r["weight"]) for r in mine]),
    )


def _group_sums(
    cases: npt.ArrayLike,
    person_years: npt.ArrayLike,
    *,
    age_groups: npt.ArrayLike,
    standard: StandardPopulation,
) -> tuple[FloatArray, FloatArray]:
    """Cases and person-years summed into the standard's age groups (one value per group)."""
    c = as_float_array(cases, name="cases")
    py = as_float_array(person_years, name="person_years")
    labels = np.asarray(age_groups)
    same_length(cases=c, person_years=py, age_groups=labels)
    if c.size == 0:
        raise StatsError("empty group: no rows to standardise")
    require_non_negative(c, name="cases")
    require_non_negative(py, name="person_years")
    pos = standard.index_of(labels)
    k = len(standard.age_groups)
    cases_g = np.bincount(pos, weights=c, minlength=k)
    py_g = np.bincount(pos, weights=py, minlength=k)
    present = np.bincount(pos, minlength=k) > 0
    return cases_g, np.where(present, py_g, np.nan)


def _rates(cases_g: FloatArray, py_g: FloatArray, *, names: tuple[str, ...]) -> FloatArray:
    bad = np.flatnonzero((py_g == 0) & (cases_g > 0))
    if bad.size:
        raise StatsError(f"age group {names[bad[0]]}: cases without person-years")
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(py_g > 0, cases_g / np.where(py_g > 0, py_g, 1.0), 0.0)


def compute_asr(
    cases: npt.ArrayLike,
    person_years: npt.ArrayLike,
    *,
    age_groups: npt.ArrayLike,
    standard: str = "esp2013",
    conf_level: float = 0.95,
    age_range: tuple[float, float] | None = None,
    multiplier: float = PER_100000,
) -> AsrResult:
    """Age-standardised rate by the direct method, CI by Fay & Feuer (1997).

    ``cases``/``person_years`` are per row with the row's ``age_groups`` label ("0-4" … "85+");
    rows with the same label are summed. Every standard group in ``age_range`` (all by default)
    must be present. Same formulas as ``epitools::ageadjust.direct``.
    """
    std = load_standard_population(standard)
    cases_g, py_g = _group_sums(cases, person_years, age_groups=age_groups, standard=std)
    keep = np.ones(len(std.age_groups), dtype=bool)
    if age_range is not None:
        lo, hi = age_range
        keep = (std.age_min >= lo) & (std.age_max <= hi)
        if not keep.any():
            raise StatsError(f"no age group of {std.name} lies within {lo:g}-{hi:g}")
    missing = np.flatnonzero(keep & np.isnan(py_g))
    if missing.size:
        raise StatsError(
            f"age group {std.age_groups[missing[0]]} of {std.name} has no row; add it with 0 "
            "cases and its person-years"
        )
    names = tuple(g for g, k in zip(std.age_groups, keep, strict=True) if k)
    c, py, w = cases_g[keep], py_g[keep], std.weights[keep]
    rate = _rates(c, py, names=names)
    total_py = float(py.sum())
    if total_py <= 0:
        raise StatsError("empty group: person-years sum to zero")
    wn = w / w.sum()
    dsr = float(np.sum(wn * rate))
    with np.errstate(divide="ignore", invalid="ignore"):
        var = float(np.sum(np.where(py > 0, wn**2 * c / np.where(py > 0, py, 1.0) ** 2, 0.0)))
        wm = float(np.max(np.where(py > 0, wn / np.where(py > 0, py, 1.0), 0.0)))
    alpha = 1.0 - conf_level
    lower = 0.0 if dsr == 0 or var == 0 else gamma_ppf(alpha / 2, dsr**2 / var, scale=var / dsr)
    upper = gamma_ppf(
        1 - alpha / 2, (dsr + wm) ** 2 / (var + wm**2), scale=(var + wm**2) / (dsr + wm)
    )
    return AsrResult(
        standard=std.name,
        cases=float(c.sum()),
        person_years=total_py,
        crude_rate=float(c.sum()) / total_py * multiplier,
        asr=dsr * multiplier,
        ci_lower=float(lower) * multiplier,
        ci_upper=float(upper) * multiplier,
        conf_level=conf_level,
        multiplier=multiplier,
    )


def compute_truncated_asr(
    cases: npt.ArrayLike,
    person_years: npt.ArrayLike,
    *,
    age_groups: npt.ArrayLike,
    standard: str = "world",
    lower_age: float = 35,
    upper_age: float = 64,
    conf_level: float = 0.95,
) -> AsrResult:
    """Truncated ASR (35-64 by default): the standard restricted to those ages, renormalised."""
    return compute_asr(
        cases,
        person_years,
        age_groups=age_groups,
        standard=standard,
        conf_level=conf_level,
        age_range=(lower_age, upper_age),
    )


def compute_cumulative_risk(
    cases: npt.ArrayLike,
    person_years: npt.ArrayLike,
    *,
    age_groups: npt.ArrayLike,
    upper_age: int = 74,
) -> CumulativeRisk:
    """Cumulative rate 0-``upper_age`` (Σ rateᵢ × widthᵢ) and risk = 100 × (1 − exp(−rate))."""
    std = load_standard_population("esp2013")  # any 5-year standard gives the same groups
    cases_g, py_g = _group_sums(cases, person_years, age_groups=age_groups, standard=std)
    keep = std.age_max <= upper_age
    missing = np.flatnonzero(keep & np.isnan(py_g))
    if missing.size:
        raise StatsError(f"age group {std.age_groups[missing[0]]} has no row")
    names = tuple(g for g, k in zip(std.age_groups, keep, strict=True) if k)
    rate = _rates(cases_g[keep], py_g[keep], names=names)
    width = std.age_max[keep] - std.age_min[keep] + 1
    cum = float(np.sum(rate * width))
    return CumulativeRisk(
        upper_age=upper_age, cumulative_rate=cum, risk_percent=100.0 * (1.0 - math.exp(-cum))
    )


def compute_sir(observed: float, expected: float, *, conf_level: float = 0.95) -> SirResult:
    """SIR = O/E with the exact Poisson CI (chi-square quantiles of 2O and 2(O+1))."""
    if observed < 0 or not math.isfinite(observed):
        raise StatsError(f"observed: {observed!r} is not a count")
    if expected <= 0 or not math.isfinite(expected):
        raise StatsError(f"expected: {expected!r} must be positive")
    alpha = 1.0 - conf_level
    lower = 0.0 if observed == 0 else float(chi2_ppf(alpha / 2, 2 * observed)) / 2
    upper = float(chi2_ppf(1 - alpha / 2, 2 * (observed + 1))) / 2
    return SirResult(
        observed=float(observed),
        expected=float(expected),
        sir=observed / expected,
        ci_lower=lower / expected,
        ci_upper=upper / expected,
        conf_level=conf_level,
    )
