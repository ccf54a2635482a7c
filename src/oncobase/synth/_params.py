"""The calibration parameters of the synthetic nation, read once from ``synth/data/*.csv``.

Every table is small; it is read with the ``csv`` module into numpy arrays and plain tuples,
and cached for the process. See ``data/README.md`` for the meaning and the sources of each file.
"""

from __future__ import annotations

import csv
import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import numpy.typing as npt

from oncobase.errors import OncobaseError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
StrArray = npt.NDArray[np.str_]

SEXES = ("M", "F")
STAGES = ("I", "II", "III", "IV")
NOISE_KINDS = (
    "typo",
    "accents",
    "used_name",
    "first_only",
    "first_reorder",
    "nir_missing",
    "nir_typo",
    "date_swap",
    "moved",
)
SOURCE_KINDS = ("hospital", "lab", "registry", "deaths")

# --- Source capture: which feed finds which tumour (docs/synth.md, "Source capture") ------
# The platform is fed by 16 participating hospitals and 6 participating pathology labs; the
# rest of the country's care (other public hospitals, private clinics, private pathology
# practices) sends nothing. Capture is drawn per tumour (registry: per person), column at a
# time, and recorded in the truth (tumours.captured_hospital / _pathology / _registry).
#
# Hospital feed: the probability that at least one participating hospital sees the tumour,
# by age at diagnosis. The elderly are more often diagnosed and treated close to home, in a
# local hospital or a clinic, and less often referred to the regional centres that feed the
# platform. Pairs (age from, probability); the last band applies above its bound.
HOSPITAL_CAPTURE_BY_AGE: tuple[tuple[int, float], ...] = ((0, 0.93), (70, 0.88), (80, 0.74))
# Death within EARLY_DEATH_DAYS of diagnosis multiplies the hospital capture: such patients
# are often diagnosed in an emergency department and die before any referral.
EARLY_DEATH_DAYS = 30
HOSPITAL_CAPTURE_EARLY_DEATH = 0.70
# Pathology feed: only tumours with a tissue diagnosis (basis 7) have specimens. They are
# read by a participating lab with this probability when the tumour is in the participating
# hospitals (their specimens go to the lab of their region, a few to a private practice), and
# with the second one when it is not (a clinic sends its specimens to a private practice, or
# to one of the regional labs, which also serve clinics): the same care pathway links the two
# feeds, a positive hospital-pathology dependence (odds ratio about 19 given a specimen).
PATHOLOGY_CAPTURE_IN_NETWORK = 0.95
PATHOLOGY_CAPTURE_OUT_OF_NETWORK = 0.50
# Tissue diagnosis is rarer at 80 and over (liver, pancreas, brain, lung in frail patients are
# diagnosed on imaging or markers): odds ratio of a histological basis at 80+ versus under 80,
# the same for every site; the odds under 80 are raised so that each (site, sex) keeps the
# ``histology_pct`` of sites.csv on average over its age distribution.
HISTOLOGY_AGE_FROM = 80
HISTOLOGY_ODDS_RATIO_ELDERLY = 0.35
# Registry: near-complete in the départements it covers (it has its own sources: every
# hospital, clinic, pathology practice and the death certificates), independent of our
# feeds given the département; drawn per person (a registered person has all his tumours
# registered). No registry outside its départements.
REGISTRY_CAPTURE = 0.98
# The death file (INSEE) lists every death, without the cause: it finds no cancer case and
# is not a capture source (it gives vital status only).


class SynthError(OncobaseError):
    """The synthetic-data generator was misconfigured or its parameter files are wrong."""


def read_rows(name: str) -> list[dict[str, str]]:
    """Rows of one parameter file of ``oncobase.synth/data`` as dicts of strings."""
    path = resources.files("oncobase.synth").joinpath("data").joinpath(name)
    try:
        with path.open("r", encoding="utf-8") as handle:
            return list(csv.DictReader(handle))
    except FileNotFoundError as exc:
        raise SynthError(
            f"Parameter file synth/data/{name} is missing; reinstall oncobase"
        ) from exc


@dataclass(frozen=True, kw_only=True)
class SiteSex:
    """One (site, sex) cell of the incidence model."""

    site: str
    sex: str
    annual_cases: float
    median_age: float
    age_sd_low: float
    age_sd_high: float
    net_survival_5y: float
    excess_tau_years: float
    histology_pct: float
    other_basis: int


@dataclass(frozen=True, kw_only=True)
class Choice:
    """A categorical distribution: values and their probabilities (summing to one)."""

    values: tuple[str, ...]
    probs: FloatArray
    extra: tuple[tuple[str, ...], ...] = ()  # per value, extra string columns


@dataclass(frozen=True, kw_only=True)
class StageModel:
    """Stage distribution of a site, the relative excess hazard per stage and the TNM scheme."""

    stages: tuple[str, ...]  # "" for sites without stage
    probs: FloatArray
    excess_rr: FloatArray
    scheme: str


@dataclass(frozen=True, kw_only=True)
class TreatmentRow:
    site: str
    stages: frozenset[str]
    group: str
    weight: float
    kind: str
    timing: str
    requires: str
    condition: str
    description: str
    codes: tuple[str, ...]
    code_system: str
    cycles: int | None
    interval_days: int | None
    dose_gy: float | None
    fractions: int | None


@dataclass(frozen=True, kw_only=True)
class Geography:
    """Communes (a few per département) with their population weights."""

    departement: StrArray
    commune: StrArray
    name: StrArray
    postcode: StrArray
    region: StrArray
    weight: FloatArray  # share of the national population
    dept_codes: StrArray  # unique départements, in file order
    dept_first_commune: IntArray  # index of each département's first commune


@dataclass(frozen=True, kw_only=True)
class Params:
    """Every parameter of the generator."""

    cells: tuple[SiteSex, ...]
    subsites: dict[str, Choice]  # extra: icd10
    morphologies: dict[str, Choice]  # extra: icd10 override, fixed grade
    grades: dict[str, Choice]
    stages: dict[str, StageModel]
    stage_tnm: dict[tuple[str, str], Choice]  # (scheme, stage) -> stage_group; extra t, n, m
    treatments: tuple[TreatmentRow, ...]
    biomarkers: dict[str, float]
    mortality_age: FloatArray  # band lower bounds
    mortality_rate: dict[str, FloatArray]  # per sex, per band, per person-year
    noise: dict[str, dict[str, float]]
    geography: Geography
    countries: Choice  # extra: name
    street_types: tuple[str, ...]
    street_names: tuple[str, ...]


def _choice(rows: list[dict[str, str]], key: str, *, extra: tuple[str, ...] = ()) -> Choice:
    weights = np.array([float(r["weight"]) for r in rows])
    if weights.sum() <= 0:
        raise SynthError(f"Weights of {key!r} sum to zero")
    return Choice(
        values=tuple(r[key] for r in rows),
        probs=weights / weights.sum(),
        extra=tuple(tuple(r[c] for c in extra) for r in rows),
    )


def _group(rows: list[dict[str, str]], by: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        out.setdefault(row[by], []).append(row)
    return out


def _opt_int(text: str) -> int | None:
    return int(text) if text else None


def _opt_float(text: str) -> float | None:
    return float(text) if text else None


def solve_cure_scale(probs: FloatArray, rr: FloatArray, net5: float) -> float:
    """The k such that sum(p * exp(-k * rr)) = net5 (bisection; the left side falls with k)."""
    lo, hi = 0.0, 1.0
    while float(np.sum(probs * np.exp(-hi * rr))) > net5:
        hi *= 2.0
        if hi > 1e6:
            raise SynthError(f"Cannot reach a 5-year net survival of {net5}")
    for _ in range(80):
        mid = (lo + hi) / 2
        if float(np.sum(probs * np.exp(-mid * rr))) > net5:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _read_geography() -> Geography:
    rows = read_rows("communes.csv")
    regions = {r["code"]: r["region_code"] for r in _read_vocab_departements()}
    dept = np.array([r["departement"] for r in rows])
    pop = np.array([float(r["population_k"]) for r in rows])
    within = np.array([float(r["weight"]) for r in rows])
    # normalise the within-département weights, then weight by the département's population
    totals: dict[str, float] = {}
    for d, w in zip(dept, within, strict=True):
        totals[str(d)] = totals.get(str(d), 0.0) + float(w)
    share = np.array([w / totals[str(d)] for d, w in zip(dept, within, strict=True)]) * pop
    codes, first = np.unique(dept, return_index=True)
    order = np.argsort(first)
    missing = sorted(set(dept.tolist()) - set(regions))
    if missing:
        raise SynthError(f"communes.csv names unknown départements: {missing}")
    return Geography(
        departement=dept,
        commune=np.array([r["commune"] for r in rows]),
        name=np.array([r["name"] for r in rows]),
        postcode=np.array([r["postcode"] for r in rows]),
        region=np.array([regions[str(d)] for d in dept]),
        weight=share / share.sum(),
        dept_codes=codes[order],
        dept_first_commune=first[order].astype(np.int64),
    )


def _read_vocab_departements() -> list[dict[str, str]]:
    path = resources.files("oncobase.vocab").joinpath("data").joinpath("departements.csv")
    with path.open("r", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@functools.cache
def load_params() -> Params:
    """Read and check every parameter file (cached)."""
    cells = tuple(
        SiteSex(
            site=r["site"],
            sex=r["sex"],
            annual_cases=float(r["annual_cases"]),
            median_age=float(r["median_age"]),
            age_sd_low=float(r["age_sd_low"]),
            age_sd_high=float(r["age_sd_high"]),
            net_survival_5y=float(r["net_survival_5y"]),
            excess_tau_years=float(r["excess_tau_years"]),
            histology_pct=float(r["histology_pct"]),
            other_basis=int(r["other_basis"]),
        )
        for r in read_rows("sites.csv")
    )
    sites = {c.site for c in cells}
    subsites = {
        k: _choice(v, "topography", extra=("icd10",))
        for k, v in _group(read_rows("subsites.csv"), "site").items()
    }
    morph = {
        k: _choice(v, "morphology", extra=("icd10", "grade"))
        for k, v in _group(read_rows("morphology.csv"), "site").items()
    }
    grades = {k: _choice(v, "grade") for k, v in _group(read_rows("grades.csv"), "site").items()}
    stages: dict[str, StageModel] = {}
    for site, rows in _group(read_rows("stages.csv"), "site").items():
        weights = np.array([float(r["weight"]) for r in rows])
        stages[site] = StageModel(
            stages=tuple(r["stage"] for r in rows),
            probs=weights / weights.sum(),
            excess_rr=np.array([float(r["excess_rr"]) for r in rows]),
            scheme=rows[0]["tnm_scheme"],
        )
    tnm_rows = read_rows("stage_tnm.csv")
    stage_tnm: dict[tuple[str, str], Choice] = {}
    for row in tnm_rows:
        stage_tnm.setdefault((row["scheme"], row["stage"]), Choice(values=(), probs=np.zeros(0)))
    for key in list(stage_tnm):
        rows = [r for r in tnm_rows if (r["scheme"], r["stage"]) == key]
        stage_tnm[key] = _choice(rows, "stage_group", extra=("t", "n", "m"))
    treatments = tuple(
        TreatmentRow(
            site=r["site"],
            stages=frozenset(s for s in r["stages"].split(";")),
            group=r["group"],
            weight=float(r["weight"]),
            kind=r["kind"],
            timing=r["timing"],
            requires=r["requires"],
            condition=r["condition"],
            description=r["description"],
            codes=tuple(r["codes"].split(";")),
            code_system=r["code_system"],
            cycles=_opt_int(r["cycles"]),
            interval_days=_opt_int(r["interval_days"]),
            dose_gy=_opt_float(r["dose_gy"]),
            fractions=_opt_int(r["fractions"]),
        )
        for r in read_rows("treatments.csv")
    )
    mort = read_rows("background_mortality.csv")
    ages = np.array([float(r["age_min"]) for r in mort if r["sex"] == "M"])
    rates = {
        sex: np.array([float(r["rate_per_100000"]) / 1e5 for r in mort if r["sex"] == sex])
        for sex in SEXES
    }
    noise: dict[str, dict[str, float]] = {
        kind: dict.fromkeys(NOISE_KINDS, 0.0) for kind in SOURCE_KINDS
    }
    for row in read_rows("noise.csv"):
        if row["source_kind"] not in noise or row["noise"] not in NOISE_KINDS:
            raise SynthError(f"noise.csv: unknown source kind or noise {row}")
        noise[row["source_kind"]][row["noise"]] = float(row["rate"])
    streets = read_rows("streets.csv")
    params = Params(
        cells=cells,
        subsites=subsites,
        morphologies=morph,
        grades=grades,
        stages=stages,
        stage_tnm=stage_tnm,
        treatments=treatments,
        biomarkers={r["param"]: float(r["value"]) for r in read_rows("biomarkers.csv")},
        mortality_age=ages,
        mortality_rate=rates,
        noise=noise,
        geography=_read_geography(),
        countries=_choice(read_rows("countries.csv"), "code", extra=("name",)),
        street_types=tuple(r["value"] for r in streets if r["kind"] == "type"),
        street_names=tuple(r["value"] for r in streets if r["kind"] == "name"),
    )
    for table in (subsites, morph, stages):
        missing = sites - set(table)
        if missing:
            raise SynthError(f"Sites without parameters: {sorted(missing)}")
    return params


@functools.cache
def cure_scale(site: str, sex: str) -> float:
    """The excess-hazard scale k of one (site, sex) cell, solved from its 5-year net survival.

    The excess cumulative hazard of a tumour of stage s is k * rr_s * (1 - exp(-t/tau)) / F5,
    with F5 = 1 - exp(-5/tau): at 5 years it is k * rr_s, and k solves
    sum_s p_s exp(-k rr_s) = net survival at 5 years.
    """
    params = load_params()
    cell = next(c for c in params.cells if c.site == site and c.sex == sex)
    model = params.stages[site]
    return solve_cure_scale(model.probs, model.excess_rr, cell.net_survival_5y)
