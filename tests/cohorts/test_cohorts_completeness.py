"""Capture-recapture on dependent sources, and completeness on the truth-derived store."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from oncobase.cohorts import CohortError, estimate_capture_recapture, load_cohort
from oncobase.cohorts.build import read_store_tables
from oncobase.cohorts.capture import (
    CaptureStratum,
    capture_histories,
    count_histories,
    estimate_stratified,
    interval,
)
from oncobase.cohorts.compile import compile_cohort
from oncobase.cohorts.completeness import compute_completeness, summarise_completeness
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


def simulate_partial_coverage(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two national sources with the dependence above (hospital, pathology) and a registry
    covering a fifth of the population, independent of both: (flags, in_area)."""
    rng = np.random.default_rng([seed, 1])  # a stream of its own
    flags = simulate_dependent_sources(n, seed)[:, :3].copy()
    in_area = rng.random(n) < 0.2
    flags[:, 2] = in_area & (rng.random(n) < 0.9)
    return flags, in_area


def _strata(flags: np.ndarray, in_area: np.ndarray) -> list[CaptureStratum]:
    area, rest = flags[in_area], flags[~in_area][:, :2]
    return [
        CaptureStratum(
            name="registry_area",
            sources=("hospital", "pathology", "registry"),
            counts=count_histories(area[area.any(axis=1)]),
        ),
        CaptureStratum(
            name="rest",
            sources=("hospital", "pathology"),
            counts=count_histories(rest[rest.any(axis=1)]),
        ),
    ]


def test_one_stratum_is_the_plain_estimate() -> None:
    flags = simulate_dependent_sources(5_000, seed=3)
    counts = count_histories(flags)
    plain = estimate_capture_recapture(counts, SOURCES)
    stratified = estimate_stratified([CaptureStratum(name="all", sources=SOURCES, counts=counts)])
    assert stratified.model == plain.model
    assert stratified.estimate == pytest.approx(plain.estimate, rel=1e-6)
    assert stratified.ci_lower == pytest.approx(plain.ci_lower, rel=1e-6)
    assert stratified.ci_upper == pytest.approx(plain.ci_upper, rel=1e-6)


@pytest.mark.parametrize("seed", [11, 12, 13])
def test_registry_area_identifies_the_national_dependence(seed: int) -> None:
    n = 30_000
    flags, in_area = simulate_partial_coverage(n, seed)
    estimate = estimate_stratified(_strata(flags, in_area))
    print(estimate.as_dict())
    assert abs(estimate.estimate - n) / n < 0.03
    assert estimate.ci_lower <= n <= estimate.ci_upper
    assert "hospital*pathology" in estimate.model
    # the independence model on the same strata, and two sources alone, miss the truth
    independence = next(f for f in estimate.fits if not f.interactions)
    _, _, high = interval(independence, estimate.observed)
    assert high < n
    national = flags[:, :2]
    two = estimate_capture_recapture(
        count_histories(national[national.any(axis=1)]), ("hospital", "pathology"), min_df=0
    )
    assert two.ci_upper < n


def test_dependence_is_not_invented_where_no_stratum_identifies_it() -> None:
    flags, in_area = simulate_partial_coverage(5_000, seed=4)
    two = flags[:, :2]
    strata = [
        CaptureStratum(
            name=name, sources=("hospital", "pathology"), counts=count_histories(p[p.any(axis=1)])
        )
        for name, p in (("a", two[in_area]), ("b", two[~in_area]))
    ]
    estimate = estimate_stratified(strata, min_df=0)
    assert estimate.model == "independence"
    assert all(not f.interactions for f in estimate.fits)


def test_stratified_rejects_bad_strata() -> None:
    with pytest.raises(CohortError, match="at least one stratum"):
        estimate_stratified([])
    with pytest.raises(CohortError, match="at least two sources"):
        estimate_stratified([CaptureStratum(name="x", sources=("a",), counts=np.ones(1))])
    with pytest.raises(CohortError, match="expected 3 history counts"):
        estimate_stratified([CaptureStratum(name="x", sources=("a", "b"), counts=np.ones(7))])
    with pytest.raises(CohortError, match="twice"):
        estimate_stratified([CaptureStratum(name="x", sources=("a", "a"), counts=np.ones(3))])


def test_summary_estimates_nationally_with_the_registry_area() -> None:
    n = 20_000
    flags, in_area = simulate_partial_coverage(n, seed=21)
    seen = flags.any(axis=1)  # members are the cases some source found
    rows = pa.table(
        {
            "person_id": pa.array(np.flatnonzero(seen)),
            "departement": pa.array(np.where(in_area, "14", "75")[seen]),
            "year": pa.array(np.full(int(seen.sum()), 2020)),
            "hospital": pa.array(flags[seen, 0].astype(np.int64)),
            "pathology": pa.array(flags[seen, 1].astype(np.int64)),
            "registry": pa.array(flags[seen, 2].astype(np.int64)),
            "deaths": pa.array(np.zeros(int(seen.sum()), np.int64)),
        }
    )
    report = summarise_completeness("sim", rows, registry_departements=("14",))
    by_scope = {r["scope"]: r for r in report.estimates.to_pylist()}
    national = by_scope["national"]
    assert national["strata"] == "registry_area+rest"
    assert abs(national["estimate"] - n) / n < 0.03
    assert national["ci_lower"] <= n <= national["ci_upper"]
    area = by_scope["registry_area"]
    assert area["registry_count"] == int(flags[in_area, 2].sum())
    assert abs(area["estimate"] - in_area.sum()) / in_area.sum() < 0.05
