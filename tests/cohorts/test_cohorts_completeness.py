"""Capture-recapture on dependent sources, and completeness on the truth-derived store."""

from __future__ import annotations

import numpy as np
import pytest

from oncobase.cohorts import CohortError, estimate_capture_recapture, load_cohort
from oncobase.cohorts.build import read_store_tables
from oncobase.cohorts.capture import capture_histories, count_histories
from oncobase.cohorts.compile import compile_cohort
from oncobase.cohorts.completeness import compute_completeness
from oncobase.store import Backend

SOURCES = ("hospital", "pathology", "registry", "deaths")


def simulate_dependent_sources(n: int, seed: int) -> np.ndarray:
    """Four sources with realistic dependence: a pathology report is far more likely for a
    hospital patient (0.85 vs 0.35: positive hospital-pathology dependence), and a death-
    certificate mention more likely for those no hospital saw (0.5 vs 0.25: negative
    hospital-deaths dependence); the registry is independent of both."""
    rng = np.random.default_rng(seed)
    hospital = rng.random(n) < 0.75
    pathology = np.where(hospital, rng.random(n) < 0.85, rng.random(n) < 0.35)
    registry = rng.random(n) < 0.5
    deaths = np.where(hospital, rng.random(n) < 0.25, rng.random(n) < 0.5)
    return np.column_stack([hospital, pathology, registry, deaths])


@pytest.mark.parametrize("n", [2_000, 20_000])
def test_capture_recapture_recovers_total(n: int) -> None:
    flags = simulate_dependent_sources(n, seed=n)
    estimate = estimate_capture_recapture(count_histories(flags), SOURCES)
    print(estimate.as_dict())
    assert abs(estimate.estimate - n) / n < 0.05
    assert estimate.ci_lower <= n <= estimate.ci_upper
    assert "hospital*pathology" in estimate.model
    # ignoring dependence (independence model) underestimates here
    independent = next(f for f in estimate.fits if not f.interactions)
    assert estimate.observed + independent.n0 < n


def test_histories_are_binary_order() -> None:
    assert capture_histories(2).tolist() == [[0, 1], [1, 0], [1, 1]]
    flags = np.array([[1, 0], [1, 1], [0, 0], [0, 1]], dtype=bool)
    assert count_histories(flags).tolist() == [1.0, 1.0, 1.0]


def test_capture_recapture_rejects_bad_counts() -> None:
    with pytest.raises(CohortError):
        estimate_capture_recapture([1.0, 2.0], ("a", "b"))
    with pytest.raises(CohortError):
        estimate_capture_recapture([1.0], ("a",))


def test_completeness_on_truth_store(truth_store: Backend) -> None:
    tables = read_store_tables(truth_store)
    definition = load_cohort("lung")
    compiled = compile_cohort(tables, definition)
    report = compute_completeness(tables, definition, compiled.members)
    members = compiled.members.count().to_pyarrow().as_py()
    assert sum(report.by_area.column("cases").to_pylist()) == members
    assert sum(report.overlaps.column("cases").to_pylist()) == members
    scopes = report.estimates.column("scope").to_pylist()
    assert "national" in scopes
    for row in report.estimates.to_pylist():
        print(row)
        assert row["estimate"] >= row["observed"]
