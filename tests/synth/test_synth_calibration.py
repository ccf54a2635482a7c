"""Calibration of the synthetic nation against the reference facts (/work/shared/reference).

Checks, per (site, sex):

* share of cases among all cases of that sex: within 5 % (relative) of the reference, or
  within 4 binomial standard errors where 5 % is less than 3 standard errors (small sites);
* median age at diagnosis within 2 years (the fast test: 3 years);
* 5-year observed survival of first primaries diagnosed 5+ years before the closing date,
  against reference net survival x expected survival (Ederer I) from the life table: within
  0.03 absolute + 3 binomial standard errors. Why 0.03: the generator's background mortality
  is a smoothed, rounded version of the life table (<= 0.01 on 5-year survival), the reference
  net survival is published rounded to 1 % (0.005), and second primaries add their own excess
  mortality that the reference's first-cancer net survival does not separate (about 0.01-0.02
  for good-prognosis sites).

The slow test runs 200,000 patients; the fast one 30,000 with the wider tolerances.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oncobase.synth.chunk import build_chunk
from oncobase.synth.config import SynthConfig

REFERENCE = Path(os.environ.get("ONCOBASE_REFERENCE", "/work/shared/reference"))
SEX = {"male": "M", "female": "F"}


@dataclass(frozen=True, kw_only=True)
class Reference:
    cases: dict[tuple[str, str], float]  # (site, sex) -> annual cases
    totals: dict[str, float]
    medians: dict[tuple[str, str], float]
    net5: dict[tuple[str, str], float]  # sex "both" allowed
    qx: dict[str, np.ndarray]  # per sex, ages 0-104


def read_reference() -> Reference:
    cases: dict[tuple[str, str], float] = {}
    totals: dict[str, float] = {}
    medians: dict[tuple[str, str], float] = {}
    with (REFERENCE / "french_incidence_complete.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["sex"] not in SEX or not row["cases"]:
                continue
            sex = SEX[row["sex"]]
            if row["site"] == "all_sites":
                totals[sex] = float(row["cases"])
                continue
            cases[(row["site"], sex)] = float(row["cases"])
            if row["median_age_dx"]:
                medians[(row["site"], sex)] = float(row["median_age_dx"])
    net5: dict[tuple[str, str], float] = {}
    with (REFERENCE / "french_net_survival.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["horizon_years"] == "5" and row["net_survival_pct"]:
                sex = SEX.get(row["sex"], "both")
                net5[(row["site"], sex)] = float(row["net_survival_pct"]) / 100
    qx: dict[str, list[float]] = {"M": [], "F": []}
    with (REFERENCE / "french_life_table.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["geo"] == "France metropolitaine":
                qx[SEX[row["sex"]]].append(float(row["qx"]))
    return Reference(
        cases=cases,
        totals=totals,
        medians=medians,
        net5=net5,
        qx={k: np.array(v) for k, v in qx.items()},
    )


def site_shares(tumours: pa.Table, persons: pa.Table) -> dict[tuple[str, str], tuple[int, int]]:
    """(site, sex) -> (cases, all cases of that sex)."""
    sex = _sex_of(tumours, persons)
    site = np.asarray(tumours["site_group"].to_numpy(zero_copy_only=False))
    out = {}
    for s in ("M", "F"):
        total = int((sex == s).sum())
        for name in np.unique(site):
            out[(str(name), s)] = (int(((sex == s) & (site == name)).sum()), total)
    return out


def _sex_of(tumours: pa.Table, persons: pa.Table) -> np.ndarray:
    keys = persons["person_key"].to_numpy()
    order = np.argsort(keys)
    pos = order[np.searchsorted(keys[order], tumours["person_key"].to_numpy())]
    return np.asarray(np.asarray(persons["sex"].to_numpy(zero_copy_only=False))[pos])


def median_ages(tumours: pa.Table, persons: pa.Table) -> dict[tuple[str, str], tuple[float, int]]:
    sex = _sex_of(tumours, persons)
    site = np.asarray(tumours["site_group"].to_numpy(zero_copy_only=False))
    age = tumours["age_at_diagnosis"].to_numpy()
    out = {}
    for s in ("M", "F"):
        for name in np.unique(site):
            sel = (sex == s) & (site == name)
            if sel.any():
                out[(str(name), s)] = (float(np.median(age[sel])), int(sel.sum()))
    return out


@dataclass(frozen=True, kw_only=True)
class SurvivalCheck:
    site: str
    sex: str
    n: int
    observed: float
    expected: float  # reference net survival x life-table expected survival
    se: float


def survival_checks(
    tumours: pa.Table, persons: pa.Table, ref: Reference, *, closing: dt.date
) -> list[SurvivalCheck]:
    """5-year observed survival of first primaries diagnosed at least 5 years before closing,
    against reference net survival x expected survival (Ederer I, from the life table)."""
    first = tumours.filter(pc.equal(tumours["tumour_number"], 1))
    keys = persons["person_key"].to_numpy()
    order = np.argsort(keys)
    pos = order[np.searchsorted(keys[order], first["person_key"].to_numpy())]
    sex = np.asarray(persons["sex"].to_numpy(zero_copy_only=False))[pos]
    death = persons["death_date"].cast(pa.int32()).to_numpy(zero_copy_only=False)
    death = np.where(np.isnan(death.astype(float)), np.inf, death.astype(float))[pos]
    dx = first["diagnosis_date"].cast(pa.int32()).to_numpy().astype(float)
    age = first["age_at_diagnosis"].to_numpy().astype(int)
    site = np.asarray(first["site_group"].to_numpy(zero_copy_only=False))
    cutoff = (closing - dt.date(1970, 1, 1)).days - 5 * 365.25
    eligible = dx <= cutoff
    alive5 = death > dx + 5 * 365.25
    out = []
    for (name, s), net in ref.net5.items():
        sexes = ["M", "F"] if s == "both" else [s]
        sel = eligible & (site == name) & np.isin(sex, sexes)
        n = int(sel.sum())
        if n < 50:
            continue
        exp = np.empty(n)
        for sx in ("M", "F"):
            here = sex[sel] == sx
            q = ref.qx[sx]
            surv = np.concatenate([[1.0], np.cumprod(1 - q)])
            a = np.clip(age[sel][here], 0, len(q) - 5)
            # exact age is uniform within the completed year: average of a and a+1
            exp[here] = 0.5 * (
                surv[a + 5] / surv[a] + surv[np.minimum(a + 6, len(q))] / surv[a + 1]
            )
        expected = net * float(exp.mean())
        observed = float(alive5[sel].mean())
        out.append(
            SurvivalCheck(
                site=name,
                sex=s,
                n=n,
                observed=observed,
                expected=expected,
                se=math.sqrt(max(expected * (1 - expected), 1e-6) / n),
            )
        )
    return out


def _nation(patients: int) -> tuple[pa.Table, pa.Table]:
    config = SynthConfig(patients=patients, seed=11, chunk_size=50_000)
    chunks = [build_chunk(config, i) for i in range(config.chunks)]
    return (
        pa.concat_tables([c.tumours for c in chunks]),
        pa.concat_tables([c.persons for c in chunks]),
    )


def _reference() -> Reference:
    if not (REFERENCE / "french_incidence_complete.csv").exists():
        pytest.skip(f"reference facts absent: {REFERENCE} (set ONCOBASE_REFERENCE)")
    return read_reference()


def _check(patients: int, *, median_tol: float) -> None:
    ref = _reference()
    tumours, persons = _nation(patients)
    shares = site_shares(tumours, persons)
    failures = []
    for (site, sex), cases in ref.cases.items():
        expected = cases / ref.totals[sex]
        got, total = shares.get((site, sex), (0, 1))
        se = math.sqrt(expected * (1 - expected) / total)
        tol = 0.05 * expected if 0.05 * expected >= 3 * se else 4 * se
        if abs(got / total - expected) > tol:
            failures.append(f"share {site} {sex}: {got / total:.4f} vs {expected:.4f} ± {tol:.4f}")
    medians = median_ages(tumours, persons)
    for key, expected_age in ref.medians.items():
        got_age, n = medians[key]
        if n >= 200 and abs(got_age - expected_age) > median_tol:
            failures.append(f"median age {key}: {got_age} vs {expected_age}")
    for check in survival_checks(tumours, persons, ref, closing=dt.date(2025, 6, 30)):
        tol = 0.03 + 3 * check.se
        if abs(check.observed - check.expected) > tol:
            failures.append(
                f"5-year survival {check.site} {check.sex}: {check.observed:.3f} vs "
                f"{check.expected:.3f} ± {tol:.3f} (n={check.n})"
            )
    assert not failures, "\n".join(failures)


def test_calibration_small_run() -> None:
    _check(30_000, median_tol=3.0)


@pytest.mark.slow
def test_calibration_200k() -> None:
    _check(200_000, median_tol=2.0)
