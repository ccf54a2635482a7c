"""The population the synthetic nation simulates: a scaled-down France, written as a CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from oncobase.synth._params import load_params, read_rows
from oncobase.synth.denominators import (
    COLUMNS,
    scale_factor,
    stationary_age_structure,
    synthetic_population,
    write_population_csv,
    write_population_of,
)
from oncobase.synth.generate import generate_nation


def test_scale_and_size_follow_the_national_figures() -> None:
    national_cases = sum(cell.annual_cases for cell in load_params().cells)
    assert 400_000 < national_cases < 470_000  # about 433,000 new cancers a year
    scale = scale_factor(patients=20_000, years=(2015, 2024))
    assert scale == pytest.approx(20_000 / (10 * national_cases))
    table = synthetic_population(patients=20_000, years=(2015, 2024))
    assert table.column_names == list(COLUMNS)
    persons = {r["departement"]: float(r["population_k"]) * 1000 for r in read_rows("communes.csv")}
    france = sum(persons.values())
    years = np.asarray(table.column("year"))
    one_year = np.asarray(table.column("population"))[years == 2020]
    assert one_year.sum() == pytest.approx(france * scale, rel=1e-4)
    # one cell per year, sex, age group and département
    assert table.num_rows == 10 * 2 * 18 * len(persons)
    dept = np.asarray(table.column("departement"))[years == 2020]
    paris = one_year[dept == "75"].sum()
    assert paris == pytest.approx(persons["75"] * scale, rel=1e-3)


def test_age_structure_is_the_life_tables_stationary_population() -> None:
    shares = stationary_age_structure()
    total = shares["M"].sum() + shares["F"].sum()
    assert total == pytest.approx(1.0)
    assert shares["M"][0] / shares["F"][0] == pytest.approx(105 / 100, rel=0.01)  # births
    # women outlive men: more women at 85+, and the share falls with age after 60
    assert shares["F"][-1] > 1.5 * shares["M"][-1]
    assert np.all(np.diff(shares["M"][12:17]) < 0)


def test_crude_incidence_of_the_demo_is_national(tmp_path: Path) -> None:
    """A generated nation's cases over its written population give France's crude rate."""
    out = tmp_path / "synth"
    report = generate_nation(out, patients=2000, seed=5, feeds=("registries",))
    path = write_population_of(out)
    assert path == out / "population.csv"
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert set(rows[0]) == set(COLUMNS)
    person_years = sum(float(r["population"]) for r in rows)
    crude = report.patients / person_years * 100_000
    national = sum(c.annual_cases for c in load_params().cells)
    assert crude == pytest.approx(national / 65.9e6 * 100_000, rel=0.03)


def test_bad_arguments_and_missing_manifest(tmp_path: Path) -> None:
    from oncobase.synth._params import SynthError

    with pytest.raises(SynthError, match="patients"):
        scale_factor(patients=0, years=(2015, 2024))
    with pytest.raises(SynthError, match="first <= last"):
        scale_factor(patients=10, years=(2024, 2015))
    assert write_population_of(tmp_path / "nothing-here") is None
    written = write_population_csv(tmp_path / "out", patients=100, years=(2020, 2020))
    assert written.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    assert not list((tmp_path / "out").glob("*.partial"))
