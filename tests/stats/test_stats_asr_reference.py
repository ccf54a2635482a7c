"""ASR and Fay-Feuer CIs against epitools::ageadjust.direct (tests/reference/asr)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from oncobase.stats import compute_asr

REF = Path(__file__).parents[1] / "reference" / "asr"
RTOL = 1e-6

INPUT = pacsv.read_csv(REF / "asr_input.csv").to_pylist()
EXPECTED = pacsv.read_csv(REF / "asr_epitools.csv").to_pylist()


@pytest.mark.parametrize(
    "row", EXPECTED, ids=lambda r: f"{r['population']}-{r['standard']}-{r['conf_level']}"
)
def test_asr_matches_epitools(row: dict[str, object]) -> None:
    rows = [r for r in INPUT if r["population"] == row["population"]]
    res = compute_asr(
        [r["cases"] for r in rows],
        [r["person_years"] for r in rows],
        age_groups=[r["age_group"] for r in rows],
        standard=str(row["standard"]),
        conf_level=float(row["conf_level"]),  # type: ignore[arg-type]
        multiplier=1.0,
    )
    got = [res.crude_rate, res.asr, res.ci_lower, res.ci_upper]
    want = [row["crude_rate"], row["adj_rate"], row["lci"], row["uci"]]
    np.testing.assert_allclose(got, np.asarray(want, dtype=float), rtol=RTOL)
