"""The shipped standard weights agree with the project's shared reference table."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from oncobase.stats import load_standard_population

SHARED = Path(__file__).parents[3] / "shared" / "reference" / "standard_populations.csv"
NAMES = {"esp2013": "ESP2013", "esp1976": "ESP1976", "world": "WORLD_SEGI_DOLL"}
NAMES |= {f"icss{k}": f"ICSS{k}" for k in (1, 2, 3)}


@pytest.mark.parametrize("name", list(NAMES))
def test_weights_sum_to_100000(name: str) -> None:
    assert load_standard_population(name).weights.sum() == 100_000


@pytest.mark.skipif(not SHARED.exists(), reason=f"shared reference not present at {SHARED}")
@pytest.mark.parametrize(("name", "shared_name"), list(NAMES.items()))
def test_weights_match_shared_reference(name: str, shared_name: str) -> None:
    with SHARED.open(encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["standard"] == shared_name]
    std = load_standard_population(name)
    assert list(std.age_groups) == [r["age_group"] for r in rows]
    np.testing.assert_array_equal(std.weights, [float(r["weight_per_100000"]) for r in rows])
