"""Incidence, SIR, cumulative risk, prevalence, trend and period net survival."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv
import pytest

from oncobase.stats import (
    build_lifetable,
    compute_age_specific_rates,
    compute_cumulative_risk,
    compute_prevalence,
    compute_sir,
    estimate_apc,
    estimate_km,
    estimate_pohar_perme,
    estimate_pohar_perme_period,
    read_lifetable,
)

GROUPS = [f"{a}-{a + 4}" for a in range(0, 85, 5)] + ["85+"]
SHARED_LT = Path(__file__).parents[3] / "shared" / "reference" / "french_life_table.csv"


def test_cumulative_risk_from_rates() -> None:
    rate = np.linspace(1e-5, 2e-3, 18)
    res = compute_cumulative_risk(rate * 1e5, np.full(18, 1e5), age_groups=GROUPS)
    cum = 5 * rate[:15].sum()
    assert res.cumulative_rate == pytest.approx(cum)
    assert res.risk_percent == pytest.approx(100 * (1 - math.exp(-cum)))


def test_sir_ci_brackets_and_matches_chi2_identity() -> None:
    res = compute_sir(10, 5.0)
    assert res.sir == 2.0
    assert res.ci_lower < 2.0 < res.ci_upper
    # exact Poisson: P(X >= 10 | mu = lower*E) = 0.025
    from scipy import stats  # type: ignore[import-untyped]

    assert stats.poisson.sf(9, res.ci_lower * 5.0) == pytest.approx(0.025, rel=1e-6)
    assert stats.poisson.cdf(10, res.ci_upper * 5.0) == pytest.approx(0.025, rel=1e-6)


def test_age_specific_rates_sum_duplicate_labels() -> None:
    t = compute_age_specific_rates([1, 2, 3], [100, 100, 200], age_groups=["5-9", "0-4", "5-9"])
    assert t["age_group"].to_pylist() == ["0-4", "5-9"]
    assert t["rate"].to_pylist() == pytest.approx([2000.0, 4 / 300 * 1e5])


def test_prevalence_counts() -> None:
    dx = np.array(["2022-06-01", "2015-01-01", "2010-01-01", "2022-12-01"], dtype="M8[D]")
    end = np.array(["NaT", "2023-06-01", "2020-01-01", "NaT"], dtype="M8[D]")
    t = compute_prevalence(dx, end, index_date="2023-01-01")
    got = dict(zip(t["measure"].to_pylist(), t["count"].to_pylist(), strict=True))
    assert got == {"1-year": 2, "5-year": 2, "10-year": 3, "complete": 3}


def test_apc_recovers_generated_trend() -> None:
    years = np.arange(2000, 2020)
    py = np.full(years.size, 1e6)
    expected = 50 * 1.03 ** (years - 2000)
    res = estimate_apc(years, expected, person_years=py)
    assert res.apc == pytest.approx(3.0, rel=1e-9)
    assert res.ci_lower < 3.0 < res.ci_upper


def test_zero_hazard_pohar_perme_equals_km() -> None:
    rng = np.random.default_rng(1)
    n = 300
    t = rng.integers(1, 2000, n).astype(float)
    e = rng.integers(0, 2, n)
    table = build_lifetable(pa.table({"sex": [1, 2], "age": [0, 0], "rate": [0.0, 0.0]}))
    kw = {"age": rng.uniform(20, 90, n), "sex": rng.integers(1, 3, n), "year": np.full(n, 2000)}
    pp = estimate_pohar_perme(t, e, lifetable=table, **kw)
    km = estimate_km(t, e)
    np.testing.assert_allclose(pp.surv, km.surv, rtol=1e-12)


def test_period_window_covering_everything_equals_cohort() -> None:
    rng = np.random.default_rng(2)
    n = 400
    table = build_lifetable(
        pa.table({"sex": [1, 1, 2, 2], "age": [0, 60, 0, 60], "rate": [0.01, 0.05, 0.008, 0.04]})
    )
    diag = np.datetime64("2010-01-01") + rng.integers(0, 365, n).astype("m8[D]")
    t = rng.integers(1, 1500, n).astype(float)
    e = rng.integers(0, 2, n)
    kw = {"age": rng.uniform(30, 80, n), "sex": rng.integers(1, 3, n), "year": diag}
    cohort = estimate_pohar_perme(t, e, lifetable=table, **kw)
    period = estimate_pohar_perme_period(
        t, e, lifetable=table, period_start="2009-01-01", period_end="2030-01-01", **kw
    )
    np.testing.assert_allclose(period.surv, cohort.surv, rtol=1e-12)


@pytest.mark.skipif(not SHARED_LT.exists(), reason=f"shared life table not present at {SHARED_LT}")
def test_french_life_table_reads_and_gives_plausible_expected_survival() -> None:
    table = read_lifetable(SHARED_LT, geo="France metropolitaine")
    assert table.sexes == (1, 2)
    assert table.ages[-1] == 104
    # 65-year-old men: the table's q(65) holds for a year, so S*(1 year) = 1 - q(65)
    n = 50
    pp = estimate_pohar_perme(
        np.full(n, 365.241 * 2),
        np.zeros(n),
        age=np.full(n, 65.0),
        sex=np.ones(n),
        year=np.full(n, 2023),
        lifetable=table,
        integration="exact",
    )
    # No deaths over one interval: S_net = 1 - dΛ_E = 1 + Λ*, Λ* = -log((1 - q65)(1 - q66)).
    rows = pyarrow.csv.read_csv(SHARED_LT).to_pylist()
    q = {
        r["age"]: r["qx"]
        for r in rows
        if r["geo"] == "France metropolitaine" and r["sex"] == "male" and r["age"] in (65, 66)
    }
    assert pp.surv[-1] == pytest.approx(1 - math.log((1 - q[65]) * (1 - q[66])), rel=1e-9)
