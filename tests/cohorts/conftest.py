"""A Testbed for cohort tests: OMOP rows written from the synthetic nation's ground truth,
keyed by the true person (no linkage noise), so membership can be checked exactly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from oncobase.store import Backend, bulk_load, connect, create_store
from oncobase.synth.schema import FACILITIES
from oncobase.vocab import read_source_file

# What each built-in cohort means in the truth's own terms (site group and histology).
TRUTH_MEMBERSHIP: dict[str, Callable[[pa.Table], pa.Array]] = {}


def _truth(name: str) -> Callable[[Callable[[pa.Table], pa.Array]], Callable[[pa.Table], pa.Array]]:
    def register(fn: Callable[[pa.Table], pa.Array]) -> Callable[[pa.Table], pa.Array]:
        TRUTH_MEMBERSHIP[name] = fn
        return fn

    return register


def _site(t: pa.Table, site: str) -> pa.Array:
    return pc.equal(t["site_group"], site)


def _morph(t: pa.Table, codes: list[str]) -> pa.Array:
    return pc.is_in(t["morphology"], pa.array(codes))


_truth("pancreatic_adenocarcinoma")(lambda t: pc.and_(_site(t, "pancreas"), _morph(t, ["8500/3"])))
_truth("lung")(lambda t: _site(t, "lung"))
_truth("lung_nsclc")(
    lambda t: pc.and_(_site(t, "lung"), pc.invert(_morph(t, ["8041/3", "8240/3"])))
)
_truth("lung_sclc")(lambda t: pc.and_(_site(t, "lung"), _morph(t, ["8041/3"])))
_truth("lung_adenocarcinoma")(lambda t: pc.and_(_site(t, "lung"), _morph(t, ["8140/3", "8250/3"])))
_truth("hepatocellular_carcinoma")(lambda t: pc.and_(_site(t, "liver"), _morph(t, ["8170/3"])))
_truth("oesophagus")(lambda t: _site(t, "oesophagus"))
_truth("stomach")(lambda t: _site(t, "stomach"))
_truth("glioblastoma")(lambda t: pc.and_(_site(t, "central_nervous_system"), _morph(t, ["9440/3"])))
_truth("central_nervous_system")(lambda t: _site(t, "central_nervous_system"))
_truth("acute_myeloid_leukaemia")(
    lambda t: pc.and_(_site(t, "leukaemias"), _morph(t, ["9861/3", "9866/3", "9891/3"]))
)
_truth("mesothelioma")(lambda t: _site(t, "mesothelioma"))
_truth("gallbladder_biliary_tract")(
    lambda t: pc.or_(pc.starts_with(t["icd10"], "C23"), pc.starts_with(t["icd10"], "C24"))
)

REGISTRY_COVERS = {d: f.id for f in FACILITIES if f.kind == "registry" for d in f.covers}


def _days(values: pa.ChunkedArray) -> np.ndarray:
    return values.to_numpy(zero_copy_only=False).astype("datetime64[D]")


def truth_store_rows(truth_dir: Path) -> dict[str, pa.Table]:
    """OMOP tables (and ingest__record_keys) from the truth, one person per true person.

    A tumour gets one condition row per source that knows it: each hospital with a visit or
    treatment for it, each lab with a specimen, and the registry of its département.
    """
    persons = pq.read_table(truth_dir / "persons.parquet")
    tumours = pq.read_table(truth_dir / "tumours.parquet")
    treatments = pq.read_table(truth_dir / "treatments.parquet")
    visits = pq.read_table(truth_dir / "visits.parquet")
    specimens = pq.read_table(truth_dir / "specimens.parquet")
    depts = read_source_file("departements.csv")
    dept_codes = depts["code"].to_pylist()
    loc_index = {c: i + 1 for i, c in enumerate(dept_codes)}
    birth = _days(persons["birth_date"])
    years = birth.astype("datetime64[Y]").astype(int) + 1970
    months = birth.astype("datetime64[M]").astype(int) % 12 + 1
    person = pa.table(
        {
            "person_id": persons["person_key"],
            "gender_concept_id": pa.array(
                np.where(pc.equal(persons["sex"], "M").to_numpy(zero_copy_only=False), 8507, 8532)
            ),
            "year_of_birth": pa.array(years, pa.int64()),
            "month_of_birth": pa.array(months, pa.int64()),
            "race_concept_id": pa.array(np.zeros(persons.num_rows, np.int64)),
            "ethnicity_concept_id": pa.array(np.zeros(persons.num_rows, np.int64)),
            "location_id": pa.array([loc_index[d] for d in persons["departement"].to_pylist()]),
        }
    )
    location = pa.table(
        {
            "location_id": pa.array(range(1, len(dept_codes) + 1), pa.int64()),
            "county": depts["code"],
            "state": depts["region_code"],
        }
    )
    dead = persons.filter(pc.is_valid(persons["death_date"]))
    death = pa.table(
        {
            "person_id": dead["person_key"],
            "death_date": dead["death_date"],
            "death_type_concept_id": pa.array(np.full(dead.num_rows, 32815, np.int64)),
        }
    )
    # sources per tumour
    hosp = pa.concat_tables(
        [
            visits.select(["tumour_key", "hospital_id"]).filter(pc.is_valid(visits["tumour_key"])),
            treatments.select(["tumour_key", "hospital_id"]),
        ],
        promote_options="permissive",
    ).rename_columns(["tumour_key", "source"])
    labs = specimens.select(["tumour_key", "lab_id"]).rename_columns(["tumour_key", "source"])
    dept_of = dict(
        zip(persons["person_key"].to_pylist(), persons["departement"].to_pylist(), strict=True)
    )
    reg_src = [REGISTRY_COVERS.get(dept_of[p]) for p in tumours["person_key"].to_pylist()]
    regs = pa.table({"tumour_key": tumours["tumour_key"], "source": pa.array(reg_src, pa.string())})
    regs = regs.filter(pc.is_valid(regs["source"]))
    plain = pa.schema([("tumour_key", pa.int64()), ("source", pa.string())])
    links = (
        pa.concat_tables([t.cast(plain) for t in (hosp, labs, regs)])
        .group_by(["tumour_key", "source"])
        .aggregate([])
    )
    cond = links.join(
        tumours.select(
            ["tumour_key", "person_key", "diagnosis_date", "icd10", "topography", "morphology"]
        ),
        "tumour_key",
        join_type="inner",
    ).sort_by([("tumour_key", "ascending"), ("source", "ascending")])
    n = cond.num_rows
    cond_ids = np.arange(1, n + 1, dtype=np.int64)
    icdo = pc.binary_join_element_wise(cond["morphology"], cond["topography"], "-")
    condition = pa.table(
        {
            "condition_occurrence_id": pa.array(cond_ids),
            "person_id": cond["person_key"],
            "condition_concept_id": pa.array(np.zeros(n, np.int64)),
            "condition_start_date": cond["diagnosis_date"],
            "condition_type_concept_id": pa.array(np.full(n, 32817, np.int64)),
            "condition_source_value": cond["icd10"],
            "condition_status_source_value": icdo,
        }
    )
    record_keys = pa.table(
        {
            "table_name": pa.array(["condition_occurrence"] * n),
            "source": cond["source"],
            "record_key": pc.cast(pa.array(cond_ids), pa.string()),
            "id": pa.array(cond_ids),
        }
    )
    # measurements: stage group, grade, EGFR status (one each per tumour when known)
    parts = []
    for column, code in (("stage_group", "21908-9"), ("grade", "33732-9"), ("egfr_status", "EGFR")):
        known = tumours.filter(pc.is_valid(tumours[column]))
        parts.append(
            pa.table(
                {
                    "person_id": known["person_key"],
                    "measurement_date": known["diagnosis_date"],
                    "measurement_source_value": pa.array([code] * known.num_rows),
                    "value_source_value": known[column],
                }
            )
        )
    meas = pa.concat_tables(parts)
    m = meas.num_rows
    measurement = pa.table(
        {
            "measurement_id": pa.array(np.arange(1, m + 1, dtype=np.int64)),
            "person_id": meas["person_id"],
            "measurement_concept_id": pa.array(np.zeros(m, np.int64)),
            "measurement_date": meas["measurement_date"],
            "measurement_type_concept_id": pa.array(np.full(m, 32817, np.int64)),
            "measurement_source_value": meas["measurement_source_value"],
            "value_source_value": meas["value_source_value"],
        }
    )
    systemic = treatments.filter(pc.equal(treatments["kind"], "systemic"))
    first_atc = pc.list_element(pc.split_pattern(systemic["code"], ";"), 0)
    s = systemic.num_rows
    drug = pa.table(
        {
            "drug_exposure_id": pa.array(np.arange(1, s + 1, dtype=np.int64)),
            "person_id": systemic["person_key"],
            "drug_concept_id": pa.array(np.zeros(s, np.int64)),
            "drug_exposure_start_date": systemic["start_date"],
            "drug_exposure_end_date": pc.fill_null(systemic["end_date"], systemic["start_date"]),
            "drug_type_concept_id": pa.array(np.full(s, 32817, np.int64)),
            "drug_source_value": first_atc,
        }
    )
    local = treatments.filter(pc.not_equal(treatments["kind"], "systemic"))
    q = local.num_rows
    procedure = pa.table(
        {
            "procedure_occurrence_id": pa.array(np.arange(1, q + 1, dtype=np.int64)),
            "person_id": local["person_key"],
            "procedure_concept_id": pa.array(np.zeros(q, np.int64)),
            "procedure_date": local["start_date"],
            "procedure_type_concept_id": pa.array(np.full(q, 32817, np.int64)),
            "procedure_source_value": local["code"],
        }
    )
    e = treatments.num_rows
    episode = pa.table(
        {
            "episode_id": pa.array(np.arange(1, e + 1, dtype=np.int64)),
            "person_id": treatments["person_key"],
            "episode_concept_id": pa.array(np.full(e, 32531, np.int64)),
            "episode_start_date": treatments["start_date"],
            "episode_number": pa.array(np.ones(e, np.int64)),
            "episode_object_concept_id": pa.array(np.zeros(e, np.int64)),
            "episode_type_concept_id": pa.array(np.full(e, 32817, np.int64)),
            "episode_source_value": pc.utf8_slice_codeunits(treatments["description"], 0, 50),
        }
    )
    first_dx = tumours.group_by("person_key").aggregate([("diagnosis_date", "min")])
    with_dx = persons.select(["person_key", "vital_status_date"]).join(
        first_dx, "person_key", join_type="inner"
    )
    start = _days(with_dx["diagnosis_date_min"]) - np.timedelta64(730, "D")
    end = _days(with_dx["vital_status_date"])
    o = with_dx.num_rows
    observation_period = pa.table(
        {
            "observation_period_id": pa.array(np.arange(1, o + 1, dtype=np.int64)),
            "person_id": with_dx["person_key"],
            "observation_period_start_date": pa.array(start),
            "observation_period_end_date": pa.array(end),
            "period_type_concept_id": pa.array(np.full(o, 32817, np.int64)),
        }
    )
    return {
        "person": person,
        "location": location,
        "death": death,
        "condition_occurrence": condition,
        "measurement": measurement,
        "drug_exposure": drug,
        "procedure_occurrence": procedure,
        "episode": episode,
        "observation_period": observation_period,
        "ingest__record_keys": record_keys,
    }


def truth_members(truth_dir: Path, name: str) -> dict[int, object]:
    """person_key → first diagnosis date of the truth tumours a cohort should hold."""
    tumours = pq.read_table(truth_dir / "tumours.parquet")
    chosen = tumours.filter(TRUTH_MEMBERSHIP[name](tumours))
    first = chosen.group_by("person_key").aggregate([("diagnosis_date", "min")])
    return dict(
        zip(first["person_key"].to_pylist(), first["diagnosis_date_min"].to_pylist(), strict=True)
    )


def load_rows(backend: Backend, rows: dict[str, pa.Table]) -> None:
    create_store(backend)
    for table, data in rows.items():
        bulk_load(backend, table, data, step="test", source="truth")


@pytest.fixture(scope="session")
def nation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from oncobase.synth import generate_nation

    out = tmp_path_factory.mktemp("nation")
    generate_nation(out, patients=2500, seed=20261129, feeds=())
    return out / "truth"


@pytest.fixture(scope="session")
def truth_rows(nation: Path) -> dict[str, pa.Table]:
    return truth_store_rows(nation)


@pytest.fixture(scope="session")
def truth_store(
    tmp_path_factory: pytest.TempPathFactory, truth_rows: dict[str, pa.Table]
) -> Iterator[Backend]:
    path = tmp_path_factory.mktemp("store") / "store.duckdb"
    with connect(f"duckdb:///{path}") as backend:
        load_rows(backend, truth_rows)
        yield backend


@pytest.fixture(scope="session")
def expected_members(nation: Path) -> Callable[[str], dict[int, object]]:
    """The truth's members of a built-in cohort: person_key → first diagnosis date."""
    return lambda name: truth_members(nation, name)
