"""Property tests: survival curves lie in [0, 1] and never rise (KM, Ederer II has no such
guarantee); the ASR of a population shaped like the standard equals its crude rate."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from oncobase.stats import compute_asr, estimate_km, load_standard_population

times = st.lists(st.integers(min_value=0, max_value=5000), min_size=1, max_size=200)


@settings(max_examples=100, deadline=None)
@given(data=st.data(), t=times)
def test_km_in_unit_interval_and_non_increasing(data: st.DataObject, t: list[int]) -> None:
    events = data.draw(st.lists(st.integers(0, 1), min_size=len(t), max_size=len(t)))
    curve = estimate_km(t, events)
    assert np.all(curve.surv >= 0)
    assert np.all(curve.surv <= 1)
    assert np.all(np.diff(curve.surv) <= 1e-15)
    ok = ~np.isnan(curve.lower)
    assert np.all(curve.lower[ok] <= curve.surv[ok] + 1e-12)
    assert np.all(curve.upper[~np.isnan(curve.upper)] <= 1)


@settings(max_examples=100, deadline=None)
@given(
    standard=st.sampled_from(["esp2013", "esp1976", "world"]),
    scale=st.floats(min_value=1.0, max_value=1e4),
    cases=st.lists(st.integers(0, 5000), min_size=18, max_size=18),
)
def test_asr_of_standard_shaped_population_is_crude(
    standard: str, scale: float, cases: list[int]
) -> None:
    std = load_standard_population(standard)
    person_years = std.weights * scale
    res = compute_asr(cases, person_years, age_groups=list(std.age_groups), standard=standard)
    np.testing.assert_allclose(res.asr, res.crude_rate, rtol=1e-9, atol=1e-12)
    assert res.ci_lower <= res.asr <= res.ci_upper
