"""Cancers of the synthetic nation: who, when, where, what, and how long they live.

Model (per chunk of cancer patients, all vectorised):

* the first primary's (site, sex) cell is drawn with probability proportional to its annual
  cases (``sites.csv``); the age at diagnosis from a two-piece normal whose median is the
  cell's median age (each half truncated to 15-99 years in probability, so the median is
  exact); the diagnosis date uniformly over the span;
* the stage from the site's stage distribution; the excess (cancer) cumulative hazard of a
  stage-s tumour at 5 years is k * rr_s, with k solved so that the 5-year net survival of the
  site matches ``sites.csv`` (``_params.cure_scale``); net survival does not depend on age,
  so the age-standardised and crude net survival agree;
* background mortality from ``background_mortality.csv`` (``_mortality``);
* second primaries at ``second_primary_rate`` per year alive, site from the same sex
  distribution, with their own excess hazard;
* the basis of diagnosis: histology with the cell's ``histology_pct`` on average, less often
  at 80+ (``capture.histology_probability``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import ndtr, ndtri

from oncobase.synth._biomarkers import empty_biomarkers, fill_biomarkers
from oncobase.synth._dates import DAYS_PER_YEAR, to_days, year_start
from oncobase.synth._mortality import draw_death_age, draw_excess_death
from oncobase.synth._params import IntArray, Params, cure_scale, load_params
from oncobase.synth.capture import histology_probability
from oncobase.synth.config import SynthConfig

AGE_MIN, AGE_MAX = 15.0, 99.0


@dataclass(frozen=True, kw_only=True)
class CellTable:
    """The (site, sex) cells as arrays."""

    site: np.ndarray
    is_female: np.ndarray
    probs_all: np.ndarray
    probs_by_sex: dict[bool, np.ndarray]
    median: np.ndarray
    sd_low: np.ndarray
    sd_high: np.ndarray
    tau: np.ndarray
    k: np.ndarray
    histology: np.ndarray
    other_basis: np.ndarray


NULL: np.ndarray = np.array(None, dtype=object)  # null for np.where


def cell_table(params: Params) -> CellTable:
    cells = params.cells
    cases = np.array([c.annual_cases for c in cells])
    female = np.array([c.sex == "F" for c in cells])
    by_sex = {}
    for sex in (False, True):
        w = np.where(female == sex, cases, 0.0)
        by_sex[sex] = w / w.sum()
    return CellTable(
        site=np.array([c.site for c in cells]),
        is_female=female,
        probs_all=cases / cases.sum(),
        probs_by_sex=by_sex,
        median=np.array([c.median_age for c in cells]),
        sd_low=np.array([c.age_sd_low for c in cells]),
        sd_high=np.array([c.age_sd_high for c in cells]),
        tau=np.array([c.excess_tau_years for c in cells]),
        k=np.array([cure_scale(c.site, c.sex) for c in cells]),
        histology=np.array([c.histology_pct for c in cells]),
        other_basis=np.array([c.other_basis for c in cells]),
    )


def draw_ages(rng: np.random.Generator, cells: CellTable, cell: IntArray) -> np.ndarray:
    """Exact ages at diagnosis: two-piece normal, median exact, within [AGE_MIN, AGE_MAX]."""
    # + 0.5: ages are reported in completed years, whose median is half a year lower
    m, lo_sd, hi_sd = cells.median[cell] + 0.5, cells.sd_low[cell], cells.sd_high[cell]
    upper = rng.random(len(cell)) < 0.5
    sd = np.where(upper, hi_sd, lo_sd)
    p_lo = ndtr((AGE_MIN - m) / lo_sd)
    p_hi = ndtr((AGE_MAX - m) / hi_sd)
    v = rng.random(len(cell))
    q = np.where(upper, 0.5 + v * (p_hi - 0.5), p_lo + v * (0.5 - p_lo))
    return np.asarray(m + sd * ndtri(q), dtype=np.float64)


def draw_stages(
    rng: np.random.Generator, params: Params, site: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Stage (object array, None for unstaged sites) and excess-hazard relative risk."""
    n = len(site)
    stage = np.full(n, None, dtype=object)
    rr = np.ones(n)
    for name in np.unique(site):
        sel = np.flatnonzero(site == name)
        model = params.stages[str(name)]
        pick = rng.choice(len(model.stages), size=len(sel), p=model.probs)
        values = np.array([s or None for s in model.stages], dtype=object)
        stage[sel] = values[pick]
        rr[sel] = model.excess_rr[pick]
    return stage, rr


@dataclass(frozen=True, kw_only=True)
class CancerCohort:
    """Cancer patients of one chunk and their tumours (before clinical details)."""

    # persons (n)
    is_female: np.ndarray
    birth_days: IntArray
    death_days: IntArray  # -1 when alive at the closing date
    death_from_cancer: np.ndarray
    # tumours (m)
    person_index: IntArray
    tumour_number: IntArray
    site: np.ndarray
    cell: IntArray
    diagnosis_days: IntArray
    stage: np.ndarray


def draw_cancer_cohort(rng: np.random.Generator, config: SynthConfig, n: int) -> CancerCohort:
    """Draw ``n`` cancer patients with their first (and second) primaries and their deaths."""
    params = load_params()
    cells = cell_table(params)
    cell = rng.choice(len(cells.site), size=n, p=cells.probs_all)
    female = cells.is_female[cell]
    age = draw_ages(rng, cells, cell)
    start, end = year_start(config.years[0]), year_start(config.years[1] + 1)
    closing = to_days(config.closing_date)
    dx = start + np.floor(rng.random(n) * (end - start)).astype(np.int64)
    birth = dx - np.round(age * DAYS_PER_YEAR).astype(np.int64)
    age = (dx - birth) / DAYS_PER_YEAR
    stage, rr = draw_stages(rng, params, cells.site[cell])
    # deaths: background from the age at diagnosis, and the cancer's excess hazard
    background = (draw_death_age(rng, female, age) - age) * DAYS_PER_YEAR
    excess = draw_excess_death(rng, cells.k[cell] * rr, cells.tau[cell]) * DAYS_PER_YEAR
    death_t = np.minimum(background, excess)
    from_cancer = excess < background
    # second primaries
    wait = rng.exponential(1.0 / config.second_primary_rate, size=n) * DAYS_PER_YEAR
    dx2 = dx + np.floor(wait).astype(np.int64)
    has2 = (wait < death_t) & (dx2 < end) & (dx2 <= closing)
    idx2 = np.flatnonzero(has2)
    f2 = female[idx2]
    cell2 = np.where(
        f2,
        rng.choice(len(cells.site), size=len(idx2), p=cells.probs_by_sex[True]),
        rng.choice(len(cells.site), size=len(idx2), p=cells.probs_by_sex[False]),
    )
    stage2, rr2 = draw_stages(rng, params, cells.site[cell2])
    excess2 = draw_excess_death(rng, cells.k[cell2] * rr2, cells.tau[cell2]) * DAYS_PER_YEAR
    t2 = wait[idx2] + excess2
    earlier = t2 < death_t[idx2]
    death_t[idx2[earlier]] = t2[earlier]
    from_cancer[idx2[earlier]] = True
    death = dx + np.floor(death_t.clip(max=200 * DAYS_PER_YEAR)).astype(np.int64)
    alive = death > closing
    death = np.where(alive, -1, death)
    from_cancer = from_cancer & ~alive
    person_index = np.concatenate([np.arange(n), idx2])
    order = np.argsort(person_index, kind="stable")
    return CancerCohort(
        is_female=female,
        birth_days=birth,
        death_days=death,
        death_from_cancer=from_cancer,
        person_index=person_index[order],
        tumour_number=np.concatenate([np.ones(n, np.int64), np.full(len(idx2), 2)])[order],
        site=np.concatenate([cells.site[cell], cells.site[cell2]])[order],
        cell=np.concatenate([cell, cell2])[order],
        diagnosis_days=np.concatenate([dx, dx2[idx2]])[order],
        stage=np.concatenate([stage, stage2])[order],
    )


def draw_tumour_details(rng: np.random.Generator, cohort: CancerCohort) -> dict[str, np.ndarray]:
    """Topography, ICD-10, morphology, grade, TNM, basis of diagnosis and biomarkers."""
    params = load_params()
    cells = cell_table(params)
    m = len(cohort.site)
    cols: dict[str, np.ndarray] = {
        "topography": np.empty(m, dtype=object),
        "icd10": np.empty(m, dtype=object),
        "morphology": np.empty(m, dtype=object),
        "grade": np.full(m, None, dtype=object),
        "stage_group": np.full(m, None, dtype=object),
        "t": np.full(m, None, dtype=object),
        "n": np.full(m, None, dtype=object),
        "m": np.full(m, None, dtype=object),
    }
    cols.update(empty_biomarkers(m))
    age = (cohort.diagnosis_days - cohort.birth_days[cohort.person_index]) / DAYS_PER_YEAR
    p_histology = histology_probability(
        histology=cells.histology,
        median=cells.median,
        sd_low=cells.sd_low,
        sd_high=cells.sd_high,
        cell=cohort.cell,
        age=np.floor(age).astype(np.int64),
    )
    histology = rng.random(m) < p_histology
    cols["basis_of_diagnosis"] = np.where(histology, 7, cells.other_basis[cohort.cell])
    for name in np.unique(cohort.site):
        site = str(name)
        sel = np.flatnonzero(cohort.site == name)
        k = len(sel)
        sub = params.subsites[site]
        pick = rng.choice(len(sub.values), size=k, p=sub.probs)
        cols["topography"][sel] = np.array(sub.values, dtype=object)[pick]
        cols["icd10"][sel] = np.array([e[0] for e in sub.extra], dtype=object)[pick]
        morph = params.morphologies[site]
        pick = rng.choice(len(morph.values), size=k, p=morph.probs)
        cols["morphology"][sel] = np.array(morph.values, dtype=object)[pick]
        override = np.array([e[0] for e in morph.extra], dtype=object)[pick]
        has_override = override != ""
        cols["icd10"][sel[has_override]] = override[has_override]
        fixed_grade = np.array([e[1] for e in morph.extra], dtype=object)[pick]
        if site in params.grades:
            gr = params.grades[site]
            grade = np.array(gr.values, dtype=object)[
                rng.choice(len(gr.values), size=k, p=gr.probs)
            ]
        else:
            grade = np.full(k, None, dtype=object)
        cols["grade"][sel] = np.where(fixed_grade != "", fixed_grade, grade)
        scheme = params.stages[site].scheme
        stage = cohort.stage[sel]
        for st in ("I", "II", "III", "IV"):
            here = sel[stage == st]
            if len(here) == 0 or (scheme, st) not in params.stage_tnm:
                continue
            tnm = params.stage_tnm[(scheme, st)]
            pick = rng.choice(len(tnm.values), size=len(here), p=tnm.probs)
            cols["stage_group"][here] = np.array(tnm.values, dtype=object)[pick]
            for j, axis in enumerate(("t", "n", "m")):
                vals = np.array([e[j] or None for e in tnm.extra], dtype=object)[pick]
                cols[axis][here] = vals
        fill_biomarkers(
            rng,
            cols,
            sel=sel,
            site=site,
            stage=cohort.stage,
            grade=cols["grade"],
            morphology=cols["morphology"],
        )
    # prostate: graded by Gleason / ISUP, not by G
    return cols


_T_SIZE = {"1": (3, 20), "2": (21, 50), "3": (51, 90), "4": (30, 110)}
_N_POSITIVE = {"0": (0, 0), "1": (1, 3), "2": (4, 9), "3": (10, 16)}
NODAL_SITES = frozenset(
    {
        "breast", "colon_rectum", "lung", "stomach", "oesophagus", "pancreas", "ovary",
        "lip_oral_cavity_pharynx", "larynx", "corpus_uteri", "cervix_uteri", "other",
    }
)  # fmt: skip
NO_SIZE_SITES = frozenset(
    {"prostate", "leukaemias", "multiple_myeloma", "hodgkin_lymphoma", "non_hodgkin_lymphoma"}
)


def draw_pathology(
    rng: np.random.Generator,
    *,
    site: np.ndarray,
    cols: dict[str, np.ndarray],
    has_surgery: np.ndarray,
    neoadjuvant: np.ndarray,
) -> None:
    """TNM prefix, tumour size, nodes and margins, consistent with T/N and the surgery."""
    m = len(site)
    t = cols["t"]
    staged = np.array([v is not None for v in t])
    cols["tnm_prefix"] = np.where(
        staged, np.where(has_surgery, np.where(neoadjuvant, "yp", "p"), "c"), NULL
    ).astype(object)
    t_main = np.array([(v or "x")[0] for v in t])
    size = np.full(m, np.nan)
    for cat, (lo, hi) in _T_SIZE.items():
        here = t_main == cat
        size[here] = rng.integers(lo, hi + 1, size=int(here.sum()))
    size = np.where(neoadjuvant, np.round(size * 0.6), size)
    size[np.isin(site, list(NO_SIZE_SITES))] = np.nan
    cols["tumour_size_mm"] = size
    nodal = has_surgery & np.isin(site, list(NODAL_SITES)) & staged
    n_main = np.array([(v or "x")[0] for v in cols["n"]])
    examined = rng.integers(8, 26, size=m).astype(np.float64)
    sentinel = (site == "breast") & (n_main == "0")
    examined[sentinel] = rng.integers(1, 5, size=int(sentinel.sum()))
    positive = np.zeros(m)
    for cat, (lo, hi) in _N_POSITIVE.items():
        here = n_main == cat
        positive[here] = rng.integers(lo, hi + 1, size=int(here.sum()))
    examined = np.maximum(examined, positive)
    cols["nodes_examined"] = np.where(nodal, examined, np.nan)
    cols["nodes_positive"] = np.where(nodal, positive, np.nan)
    margin = np.array(["R0", "R1", "R2"], dtype=object)[rng.choice(3, size=m, p=[0.90, 0.08, 0.02])]
    cols["margin_status"] = np.where(has_surgery & staged, margin, NULL).astype(object)
