"""Population denominators of the synthetic nation, written as ``<out>/population.csv``.

The generator draws ``patients`` first cancers, spread evenly over the diagnosis years, with
the national case mix of ``sites.csv`` (about 433,000 new cancers a year in France), and puts
each person in a département with the weight of its population (``communes.csv``). So the
nation it simulates is France scaled by ``patients / (years × national new cancers a year)``,
and this module writes that scaled population, by year, sex, 5-year age group and
département, in the columns the web explorer reads (``year, sex, age_group, departement,
population``).

The generator knows each département's population but no census age pyramid: the age and
sex structure written here is the stationary population of the generator's own life table
(``background_mortality.csv``, the hazard of :mod:`oncobase.synth._mortality`) with 105 boys
born for 100 girls, the same every year. Crude rates are therefore national ones (cases over
a population of the right size); age-specific and age-standardised rates are exact against
this assumed structure, not against INSEE's census.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from oncobase.synth._mortality import MAX_AGE, cumulative_hazard, yearly_hazard
from oncobase.synth._params import SEXES, FloatArray, SynthError, load_params, read_rows

POPULATION_FILE = "population.csv"
COLUMNS = ("year", "sex", "age_group", "departement", "population")
AGE_GROUPS: tuple[str, ...] = (*(f"{a}-{a + 4}" for a in range(0, 85, 5)), "85+")
MALE_BIRTH_SHARE = 105 / 205

__all__ = [
    "COLUMNS",
    "POPULATION_FILE",
    "scale_factor",
    "stationary_age_structure",
    "synthetic_population",
    "write_population_csv",
    "write_population_of",
]


def scale_factor(*, patients: int, years: tuple[int, int]) -> float:
    """Persons of the synthetic nation per person of France."""
    if patients < 1:
        raise SynthError("patients must be at least 1")
    first, last = years
    if last < first:
        raise SynthError(f"years {years} must be (first, last) with first <= last")
    national = sum(cell.annual_cases for cell in load_params().cells)
    return patients / ((last - first + 1) * national)


def stationary_age_structure() -> dict[str, FloatArray]:
    """Share of the population in each 5-year age group, per sex (all cells sum to one).

    Person-years lived in each year of age by a stationary population with the generator's
    life table (hazard constant within a year of age: (S(x) − S(x+1)) / h(x)).
    """
    lived: dict[str, FloatArray] = {}
    for sex in SEXES:
        hazard = yearly_hazard()[sex]
        survival = np.exp(-cumulative_hazard()[sex])  # at exact ages 0 … MAX_AGE + 1
        per_year = (survival[:-1] - survival[1:]) / hazard
        band = np.minimum(np.arange(MAX_AGE + 1) // 5, len(AGE_GROUPS) - 1)
        radix = MALE_BIRTH_SHARE if sex == "M" else 1 - MALE_BIRTH_SHARE
        summed = np.bincount(band, weights=per_year, minlength=len(AGE_GROUPS))
        lived[sex] = (radix * summed).astype(np.float64)
    total = sum(float(v.sum()) for v in lived.values())
    return {sex: values / total for sex, values in lived.items()}


def _departement_populations() -> tuple[list[str], FloatArray]:
    geo = load_params().geography
    persons: dict[str, float] = {}
    for row in read_rows("communes.csv"):  # one row per commune: a hundred-odd départements
        persons[row["departement"]] = float(row["population_k"]) * 1000.0
    codes = [str(c) for c in geo.dept_codes]
    return codes, np.array([persons[c] for c in codes])


def synthetic_population(*, patients: int, years: tuple[int, int]) -> pa.Table:
    """The scaled population by year, sex, age group and département (columns ``COLUMNS``)."""
    scale = scale_factor(patients=patients, years=years)
    codes, persons = _departement_populations()
    shares = stationary_age_structure()
    year_list = np.arange(years[0], years[1] + 1)
    sexes = np.array(SEXES)
    ages = np.array(AGE_GROUPS)
    # every (year, sex, age group, département) cell, built as one broadcast grid
    y, s, a, d = np.meshgrid(
        np.arange(len(year_list)),
        np.arange(len(sexes)),
        np.arange(len(ages)),
        np.arange(len(codes)),
        indexing="ij",
    )
    share = np.stack([shares[sex] for sex in SEXES])  # sex × age group
    value = persons[d] * scale * share[s, a]
    return pa.table(
        {
            "year": pa.array(year_list[y].ravel(), pa.int64()),
            "sex": pa.array(sexes[s].ravel()),
            "age_group": pa.array(ages[a].ravel()),
            "departement": pa.array(np.array(codes)[d].ravel()),
            "population": pa.array(np.round(value.ravel(), 3)),
        }
    )


def write_population_csv(out: Path, *, patients: int, years: tuple[int, int]) -> Path:
    """Write ``out/population.csv`` (atomically: a reader never sees half a file)."""
    table = synthetic_population(patients=patients, years=years)
    out.mkdir(parents=True, exist_ok=True)
    path = out / POPULATION_FILE
    partial = path.with_suffix(".csv.partial")
    with partial.open("wb") as handle:
        handle.write((",".join(COLUMNS) + "\n").encode())
        options = pa_csv.WriteOptions(include_header=False, quoting_style="none")
        pa_csv.write_csv(table, handle, write_options=options)
    partial.replace(path)
    return path


def write_population_of(out: Path) -> Path | None:
    """Write ``out/population.csv`` for the nation generated in ``out`` (read from its
    manifest); None when ``out`` holds no generated nation."""
    from oncobase.synth.generate import read_manifest

    manifest = read_manifest(out)
    if manifest is None:
        return None
    patients, years = manifest.get("patients"), manifest.get("years")
    if not isinstance(patients, int) or not isinstance(years, list) or len(years) != 2:
        return None
    return write_population_csv(out, patients=patients, years=(int(years[0]), int(years[1])))
