"""Relative and net survival against relsurv::rs.surv on colrec with slopop
(fixtures and their R script in tests/reference/relsurv)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.csv as pacsv
import pytest

from oncobase.stats import (
    estimate_ederer1,
    estimate_ederer2,
    estimate_pohar_perme,
    read_lifetable,
)

REF = Path(__file__).parents[1] / "reference" / "relsurv"
RTOL_NET = 1e-4


@pytest.fixture(scope="module")
def colrec() -> dict[str, Any]:
    table = pacsv.read_csv(REF / "colrec.csv")
    data = {c: table[c].to_numpy(zero_copy_only=False) for c in table.column_names}
    data["diag"] = np.asarray(data["diag"]).astype("datetime64[D]")
    return data


@pytest.mark.parametrize(
    ("name", "estimator"),
    [
        ("pohar_perme", estimate_pohar_perme),
        ("ederer2", estimate_ederer2),
        ("ederer1", estimate_ederer1),
    ],
)
def test_matches_rs_surv(name: str, estimator: Callable[..., Any], colrec: dict[str, Any]) -> None:
    lifetable = read_lifetable(REF / "slopop.csv")
    curve = estimator(
        colrec["time"],
        colrec["stat"],
        age=colrec["age_years"],
        sex=colrec["sex"],
        year=colrec["diag"],
        lifetable=lifetable,
    )
    ref = pacsv.read_csv(REF / f"rs_{name}.csv")
    want = {c: ref[c].to_numpy() for c in ref.column_names}
    np.testing.assert_array_equal(curve.time, want["time"])
    np.testing.assert_array_equal(curve.n_risk, want["n_risk"])
    np.testing.assert_array_equal(curve.n_event, want["n_event"])
    np.testing.assert_allclose(curve.surv, want["surv"], rtol=RTOL_NET)
    np.testing.assert_allclose(curve.std_err_log, want["std_err_log"], rtol=RTOL_NET)
    np.testing.assert_allclose(curve.lower, want["lower"], rtol=RTOL_NET)
    np.testing.assert_allclose(curve.upper, want["upper"], rtol=RTOL_NET)


def test_exact_integration_stays_close_to_relsurv_early(colrec: dict[str, Any]) -> None:
    lifetable = read_lifetable(REF / "slopop.csv")
    kwargs = {
        "age": colrec["age_years"],
        "sex": colrec["sex"],
        "year": colrec["diag"],
        "lifetable": lifetable,
    }
    exact = estimate_pohar_perme(colrec["time"], colrec["stat"], integration="exact", **kwargs)
    ref = pacsv.read_csv(REF / "rs_pohar_perme.csv")
    early = ref["time"].to_numpy() <= 1826
    np.testing.assert_allclose(exact.surv[early], ref["surv"].to_numpy()[early], atol=1e-4)
