"""Source capture: which feed finds which tumour (the parameters are in ``_params``).

A real platform is not fed by every hospital and every pathology lab of the country, and the
sources that do feed it miss cases in a dependent way. The generator draws, per tumour and
column at a time:

* **hospital**: whether a participating hospital sees the tumour, lower for the elderly and
  for patients who die within a month of diagnosis; a tumour no participating hospital sees
  has its whole care (visits, treatments, specimens) in ``OUTSIDE_HOSPITAL``, which sends no
  feed;
* **pathology**: only tumours with a tissue diagnosis have specimens (a tissue diagnosis is
  rarer at 80+, :func:`histology_probability`); their specimens are read by a participating
  lab far more often when the tumour is in the participating hospitals (same care pathway:
  positive hospital-pathology dependence); otherwise by ``OUTSIDE_LAB``, which sends nothing;
* **registry** (per person): near-complete in the départements a registry covers,
  independent of the other feeds given the département; nothing elsewhere.

The truth keeps the whole care (with the outside ids) and records, per tumour, which feeds
captured it (``tumours.captured_hospital``, ``captured_pathology``, ``captured_registry``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.special import expit, ndtr

from oncobase.synth._params import (
    EARLY_DEATH_DAYS,
    HISTOLOGY_AGE_FROM,
    HISTOLOGY_ODDS_RATIO_ELDERLY,
    HOSPITAL_CAPTURE_BY_AGE,
    HOSPITAL_CAPTURE_EARLY_DEATH,
    PATHOLOGY_CAPTURE_IN_NETWORK,
    PATHOLOGY_CAPTURE_OUT_OF_NETWORK,
    REGISTRY_CAPTURE,
    FloatArray,
    IntArray,
)
from oncobase.synth.schema import FACILITIES

OUTSIDE_HOSPITAL = "EXT_HOSP"  # any hospital or clinic that does not feed the platform
OUTSIDE_LAB = "EXT_LAB"  # any pathology practice that does not feed the platform
OUTSIDE_NAMES = {
    OUTSIDE_HOSPITAL: "Clinique ou hôpital hors plateforme (synthétique)",
    OUTSIDE_LAB: "Cabinet d'anatomie pathologique hors plateforme (synthétique)",
}
REGISTRY_DEPARTEMENTS = frozenset(d for f in FACILITIES if f.kind == "registry" for d in f.covers)
AGE_MIN, AGE_MAX = 15.0, 99.0  # the truncation of the age model (tumours.draw_ages)


@dataclass(frozen=True, kw_only=True)
class Capture:
    """Per tumour: the feeds that capture it (the registry flag is the person's)."""

    hospital: np.ndarray  # bool: a participating hospital sees the tumour
    lab: np.ndarray  # bool: its specimens (if any) are read by a participating lab
    pathology: np.ndarray  # bool: lab and a tissue diagnosis (there is a specimen)
    registry: np.ndarray  # bool: a registry has the tumour's person


def hospital_capture_probability(age: IntArray, early_death: np.ndarray) -> FloatArray:
    """The probability that a participating hospital sees a tumour."""
    bounds = np.array([b for b, _ in HOSPITAL_CAPTURE_BY_AGE])
    probs = np.array([p for _, p in HOSPITAL_CAPTURE_BY_AGE])
    band = np.searchsorted(bounds, age, side="right") - 1
    p = probs[np.clip(band, 0, len(probs) - 1)]
    return np.asarray(np.where(early_death, p * HOSPITAL_CAPTURE_EARLY_DEATH, p), np.float64)


def _share_from(
    age: float, median: FloatArray, sd_low: FloatArray, sd_high: FloatArray
) -> FloatArray:
    """P(age at diagnosis >= ``age``) under the two-piece normal of ``tumours.draw_ages``."""
    m = median + 0.5
    top_hi = ndtr((AGE_MAX - m) / sd_high)
    upper = 0.5 * (top_hi - ndtr((age - m) / sd_high)) / (top_hi - 0.5)
    bottom_lo = ndtr((AGE_MIN - m) / sd_low)
    lower = 0.5 + 0.5 * (0.5 - ndtr((age - m) / sd_low)) / (0.5 - bottom_lo)
    return np.asarray(np.clip(np.where(age >= m, upper, lower), 0.0, 1.0), np.float64)


@functools.cache
def _young_log_odds(targets: tuple[float, ...], shares: tuple[float, ...]) -> tuple[float, ...]:
    """Per cell, the log-odds x under HISTOLOGY_AGE_FROM such that
    (1 - f) expit(x) + f expit(x + log OR) equals the cell's histology share (bisection)."""
    t = np.clip(np.array(targets), 1e-9, 1.0 - 1e-9)
    f = np.array(shares)
    shift = float(np.log(HISTOLOGY_ODDS_RATIO_ELDERLY))
    lo, hi = np.full(len(t), -30.0), np.full(len(t), 30.0)
    for _ in range(80):
        mid = (lo + hi) / 2
        above = (1 - f) * expit(mid) + f * expit(mid + shift) > t
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return tuple(((lo + hi) / 2).tolist())


def histology_probability(
    *,
    histology: FloatArray,
    median: FloatArray,
    sd_low: FloatArray,
    sd_high: FloatArray,
    cell: IntArray,
    age: IntArray,
) -> FloatArray:
    """Per tumour, the probability of a tissue diagnosis given its (site, sex) cell and age:
    odds lower by HISTOLOGY_ODDS_RATIO_ELDERLY from HISTOLOGY_AGE_FROM, the cell's mean kept."""
    shares = _share_from(float(HISTOLOGY_AGE_FROM), median, sd_low, sd_high)
    young = np.array(_young_log_odds(tuple(histology.tolist()), tuple(shares.tolist())))
    x = young[cell] + np.where(age >= HISTOLOGY_AGE_FROM, np.log(HISTOLOGY_ODDS_RATIO_ELDERLY), 0.0)
    p = expit(x)
    return np.asarray(np.where(histology[cell] >= 1.0, 1.0, p), np.float64)


def draw_capture(
    rng: np.random.Generator,
    *,
    age: IntArray,
    days_to_death: IntArray,
    tissue: np.ndarray,
    person_index: IntArray,
    person_departement: np.ndarray,
) -> Capture:
    """Draw the capture of ``len(age)`` tumours. ``days_to_death`` is -1 for the living,
    ``tissue`` whether the tumour has a tissue diagnosis (basis 7), ``person_departement``
    the département of residence of each person (indexed by ``person_index``)."""
    m = len(age)
    early = (days_to_death >= 0) & (days_to_death <= EARLY_DEATH_DAYS)
    hospital = rng.random(m) < hospital_capture_probability(age, early)
    p_lab = np.where(hospital, PATHOLOGY_CAPTURE_IN_NETWORK, PATHOLOGY_CAPTURE_OUT_OF_NETWORK)
    lab = rng.random(m) < p_lab
    n = len(person_departement)
    covered = np.isin(person_departement, list(REGISTRY_DEPARTEMENTS))
    registered = covered & (rng.random(n) < REGISTRY_CAPTURE)
    return Capture(
        hospital=hospital,
        lab=lab,
        pathology=lab & tissue,
        registry=registered[person_index],
    )
