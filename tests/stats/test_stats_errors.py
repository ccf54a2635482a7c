"""Bad input gets a StatsError naming the row or cell."""

from __future__ import annotations

import pyarrow as pa
import pytest

from oncobase.errors import StatsError
from oncobase.stats import (
    build_lifetable,
    compute_asr,
    estimate_km,
    estimate_pohar_perme,
)


def test_negative_time_names_row() -> None:
    with pytest.raises(StatsError, match="row 2 is negative"):
        estimate_km([5, 3, -1], [1, 0, 1])


def test_empty_group() -> None:
    with pytest.raises(StatsError, match="empty group"):
        estimate_km([], [])


def test_unknown_age_group_names_row() -> None:
    groups = [f"{a}-{a + 4}" for a in range(0, 85, 5)] + ["85-89"]
    with pytest.raises(StatsError, match=r"row 17 has unknown age group '85-89'"):
        compute_asr([1] * 18, [1000] * 18, age_groups=groups, standard="esp2013")


def test_missing_lifetable_cell_is_named() -> None:
    table = pa.table(
        {
            "year": [2000, 2000, 2000],
            "sex": [1, 1, 2],
            "age": [0, 1, 0],
            "q": [0.01, 0.02, 0.01],
        }
    )
    with pytest.raises(StatsError, match="missing cell sex=2 age=1 year=2000"):
        build_lifetable(table)


def test_sex_absent_from_lifetable_names_row() -> None:
    table = build_lifetable(pa.table({"sex": [1, 1], "age": [0, 1], "rate": [0.01, 0.02]}))
    with pytest.raises(StatsError, match="row 1 has sex 2"):
        estimate_pohar_perme(
            [10, 20], [1, 0], age=[50, 60], sex=[1, 2], year=[2000, 2000], lifetable=table
        )
