"""Background (all-cause) mortality of the French population, and cancer excess mortality.

Background: a hazard per single year of age, log-linear between the mid-points of the
5-year bands of ``background_mortality.csv`` (extrapolated beyond the last band), constant
within each year of age. Sampling inverts the cumulative hazard exactly.
"""

from __future__ import annotations

import functools

import numpy as np

from oncobase.synth._params import SEXES, FloatArray, load_params

MAX_AGE = 125


@functools.cache
def yearly_hazard() -> dict[str, FloatArray]:
    """Hazard (per person-year) at each completed age 0..MAX_AGE, per sex."""
    params = load_params()
    lows = params.mortality_age
    mids = np.concatenate([[0.5, 3.0], lows[2:] + 2.5])
    ages = np.arange(MAX_AGE + 1) + 0.5
    out: dict[str, FloatArray] = {}
    for sex in SEXES:
        log_rate = np.log(params.mortality_rate[sex])
        h = np.exp(np.interp(ages, mids, log_rate))
        slope = (log_rate[-1] - log_rate[-2]) / (mids[-1] - mids[-2])
        beyond = ages > mids[-1]
        h[beyond] = np.exp(log_rate[-1] + slope * (ages[beyond] - mids[-1]))
        out[sex] = np.minimum(h, 5.0)
    return out


@functools.cache
def cumulative_hazard() -> dict[str, FloatArray]:
    """Cumulative hazard at exact ages 0..MAX_AGE+1."""
    return {sex: np.concatenate([[0.0], np.cumsum(h)]) for sex, h in yearly_hazard().items()}


def hazard_at(is_female: np.ndarray, age: FloatArray) -> FloatArray:
    """Cumulative background hazard at exact ages."""
    out = np.empty(len(age))
    a = np.clip(age, 0, MAX_AGE)
    whole = np.floor(a).astype(np.int64)
    for sex, sel in (("M", ~is_female), ("F", is_female)):
        cum = cumulative_hazard()[sex]
        h = yearly_hazard()[sex]
        w = whole[sel]
        out[sel] = cum[w] + h[np.minimum(w, MAX_AGE)] * (a[sel] - w)
    return out


def draw_death_age(
    rng: np.random.Generator, is_female: np.ndarray, age_now: FloatArray
) -> FloatArray:
    """Exact age at death from background mortality, given alive at ``age_now``."""
    target = hazard_at(is_female, age_now) + rng.exponential(size=len(age_now))
    out = np.empty(len(age_now))
    for sex, sel in (("M", ~is_female), ("F", is_female)):
        cum = cumulative_hazard()[sex]
        h = yearly_hazard()[sex]
        t = target[sel]
        idx = np.clip(np.searchsorted(cum, t, side="right") - 1, 0, MAX_AGE)
        out[sel] = idx + (t - cum[idx]) / h[idx]
    return np.minimum(out, MAX_AGE + 0.999)


def survival_probability(is_female: np.ndarray, age: FloatArray, years: float) -> FloatArray:
    """Background probability of surviving ``years`` from exact ``age``."""
    return np.exp(-(hazard_at(is_female, age + years) - hazard_at(is_female, age)))


@functools.cache
def death_age_cdf() -> dict[str, FloatArray]:
    """Distribution of age at death (cohort life table), on single years 0..MAX_AGE."""
    out: dict[str, FloatArray] = {}
    for sex in SEXES:
        cum = cumulative_hazard()[sex]
        survival = np.exp(-cum)
        deaths = survival[:-1] - survival[1:]
        out[sex] = np.cumsum(deaths) / deaths.sum()
    return out


def draw_age_at_death(rng: np.random.Generator, is_female: np.ndarray) -> FloatArray:
    """Exact ages at death of persons who die (for the non-cancer deaths of the death file)."""
    u = rng.random(len(is_female))
    out = np.empty(len(is_female))
    for sex, sel in (("M", ~is_female), ("F", is_female)):
        out[sel] = np.searchsorted(death_age_cdf()[sex], u[sel], side="right")
    return np.minimum(out + rng.random(len(is_female)), MAX_AGE + 0.999)


def draw_excess_death(
    rng: np.random.Generator, scale_5y: FloatArray, tau: FloatArray
) -> FloatArray:
    """Years from diagnosis to a cancer death (inf when the cancer never kills).

    Excess cumulative hazard H(t) = L (1 - exp(-t / tau)) with plateau L = scale_5y / F5, so
    that H(5) = scale_5y: a mixture-cure shape (the hazard falls with time since diagnosis).
    """
    plateau = scale_5y / (1.0 - np.exp(-5.0 / tau))
    e = rng.exponential(size=len(scale_5y))
    out = np.full(len(scale_5y), np.inf)
    dies = e < plateau
    out[dies] = -tau[dies] * np.log1p(-e[dies] / plateau[dies])
    return out
