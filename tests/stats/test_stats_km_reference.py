"""Kaplan-Meier against survival::survfit on survival::lung (fixtures in tests/reference/km)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from oncobase.stats import estimate_km, estimate_survival_quantile

REF = Path(__file__).parents[1] / "reference" / "km"
RTOL = 1e-6
CONF = {"log": "log", "loglog": "log-log", "plain": "plain"}


def _read(name: str) -> dict[str, np.ndarray]:
    table = pacsv.read_csv(REF / name)
    return {c: table[c].to_numpy(zero_copy_only=False) for c in table.column_names}


LUNG = _read("lung.csv")


def _subsets(by: str) -> list[tuple[str, np.ndarray]]:
    if by == "none":
        return [("all", np.ones(LUNG["time"].size, dtype=bool))]
    return [(str(s), LUNG["sex"] == s) for s in (1, 2)]


@pytest.mark.parametrize("by", ["none", "sex"])
@pytest.mark.parametrize("slug", list(CONF))
def test_km_curve_matches_survfit(by: str, slug: str) -> None:
    ref = _read(f"km_lung_{by}_{slug}.csv")
    for group, mask in _subsets(by):
        curve = estimate_km(LUNG["time"][mask], LUNG["status"][mask], conf_type=CONF[slug])
        r = ref["group"].astype(str) == group
        np.testing.assert_array_equal(curve.time, ref["time"][r])
        np.testing.assert_array_equal(curve.n_risk, ref["n_risk"][r])
        np.testing.assert_array_equal(curve.n_event, ref["n_event"][r])
        np.testing.assert_array_equal(curve.n_censor, ref["n_censor"][r])
        np.testing.assert_allclose(curve.surv, ref["surv"][r], rtol=RTOL)
        np.testing.assert_allclose(curve.std_err_log, ref["std_err_log"][r], rtol=RTOL)
        np.testing.assert_allclose(curve.lower, ref["lower"][r], rtol=RTOL)
        np.testing.assert_allclose(curve.upper, ref["upper"][r], rtol=RTOL)


@pytest.mark.parametrize("by", ["none", "sex"])
@pytest.mark.parametrize("slug", list(CONF))
def test_km_summary_at_times_matches_survfit(by: str, slug: str) -> None:
    ref = _read(f"km_lung_summary_{by}_{slug}.csv")
    for group, mask in _subsets(by):
        curve = estimate_km(LUNG["time"][mask], LUNG["status"][mask], conf_type=CONF[slug])
        r = ref["group"].astype(str) == group
        at = curve.at(ref["time"][r])
        np.testing.assert_array_equal(at["n_at_risk"].to_numpy(), ref["n_risk"][r])
        np.testing.assert_allclose(at["estimate"].to_numpy(), ref["surv"][r], rtol=RTOL)
        np.testing.assert_allclose(at["std_err"].to_numpy(), ref["std_err"][r], rtol=RTOL)
        np.testing.assert_allclose(at["ci_lower"].to_numpy(), ref["lower"][r], rtol=RTOL)
        np.testing.assert_allclose(at["ci_upper"].to_numpy(), ref["upper"][r], rtol=RTOL)


@pytest.mark.parametrize("by", ["none", "sex"])
@pytest.mark.parametrize("slug", list(CONF))
def test_km_quantiles_match_survfit(by: str, slug: str) -> None:
    ref = _read(f"km_lung_quantiles_{by}_{slug}.csv")
    for group, mask in _subsets(by):
        curve = estimate_km(LUNG["time"][mask], LUNG["status"][mask], conf_type=CONF[slug])
        r = np.flatnonzero(ref["group"].astype(str) == group)
        for i in r:
            q = estimate_survival_quantile(curve, prob=float(ref["prob"][i]))
            got = np.array([q.quantile, q.lower, q.upper])
            want = np.array([ref["quantile"][i], ref["lower"][i], ref["upper"][i]], dtype=float)
            np.testing.assert_allclose(got, want, rtol=RTOL, equal_nan=True)
