"""One chunk of the synthetic nation: cancer patients, non-cancer deaths, and their truth.

Chunk ``i`` holds cancer patients ``i * chunk_size + 1 ...`` and its share of the non-cancer
persons who die over the span. Its random generator is seeded with ``SeedSequence(seed,
spawn_key=(i,))``: a chunk depends only on (seed, patients, chunk_size, i), never on the other
chunks, so chunks can be generated in any order (or in parallel) and the bytes do not change.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from oncobase.synth._dates import DAYS_PER_YEAR, age_in_years, to_arrow, to_days, year_start
from oncobase.synth._mortality import draw_age_at_death
from oncobase.synth._params import IntArray, load_params
from oncobase.synth.capture import OUTSIDE_HOSPITAL, OUTSIDE_LAB, draw_capture
from oncobase.synth.care import HOSPITAL_IDS, HOSPITALS, LAB_IDS, LABS, draw_hospitals, plan_care
from oncobase.synth.config import SynthConfig
from oncobase.synth.identity import build_source_records
from oncobase.synth.population import build_persons
from oncobase.synth.schema import (
    FACILITIES,
    PERSONS,
    SPECIMENS,
    TREATMENTS,
    TUMOURS,
    VISITS,
    TruthChunk,
)
from oncobase.synth.tumours import draw_cancer_cohort, draw_pathology, draw_tumour_details

KEY_BLOCK = 100_000_000  # keys of chunk i: i * KEY_BLOCK + 1 ...
REGISTRIES = tuple(f for f in FACILITIES if f.kind == "registry")
# Care indices: 0..15 the participating hospitals, 16 the outside (non-participating) ones;
# labs likewise (0..5, then 6).
ALL_HOSPITAL_IDS = np.append(HOSPITAL_IDS, OUTSIDE_HOSPITAL)
ALL_LAB_IDS = np.append(LAB_IDS, OUTSIDE_LAB)


def decedents_before(config: SynthConfig, index: int) -> int:
    """Non-cancer decedents in the chunks before ``index``."""
    patients = min(index * config.chunk_size, config.patients)
    return round(patients * config.decedents_per_patient)


def chunk_rng(config: SynthConfig, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(index,)))


def _nullable(values: np.ndarray, type_: pa.DataType) -> pa.Array:
    if values.dtype == object:
        return pa.array(values, type=type_)
    arr = pa.array(values, from_pandas=True)
    return arr.cast(type_)


def _keys(index: int, n: int) -> IntArray:
    return index * KEY_BLOCK + np.arange(1, n + 1, dtype=np.int64)


def build_chunk(config: SynthConfig, index: int) -> TruthChunk:
    """Generate chunk ``index`` (0-based) of the nation."""
    rng = chunk_rng(config, index)
    params = load_params()
    geo = params.geography
    n_c = min(config.chunk_size, config.patients - index * config.chunk_size)
    n_d = decedents_before(config, index + 1) - decedents_before(config, index)
    closing = to_days(config.closing_date)
    span_start = year_start(config.years[0])
    # cancer patients and their tumours
    cohort = draw_cancer_cohort(rng, config, n_c)
    # non-cancer persons who die over the span
    d_female = rng.random(n_d) < 0.5
    d_death = span_start + np.floor(rng.random(n_d) * (closing + 1 - span_start)).astype(np.int64)
    d_birth = d_death - np.round(draw_age_at_death(rng, d_female) * DAYS_PER_YEAR).astype(np.int64)
    n = n_c + n_d
    is_female = np.concatenate([cohort.is_female, d_female])
    birth = np.concatenate([cohort.birth_days, d_birth])
    death = np.concatenate([cohort.death_days, d_death])
    from_cancer = np.concatenate([cohort.death_from_cancer, np.zeros(n_d, bool)])
    keys = np.concatenate(
        [
            index * config.chunk_size + np.arange(1, n_c + 1, dtype=np.int64),
            config.patients + decedents_before(config, index) + np.arange(1, n_d + 1),
        ]
    )
    is_cancer = np.arange(n) < n_c
    persons = build_persons(
        rng, config, person_keys=keys, is_female=is_female, birth_days=birth, is_cancer=is_cancer
    )
    # care
    hospitals, count = draw_hospitals(rng, np.asarray(persons["region"])[:n_c])
    details = draw_tumour_details(rng, cohort)
    end_days = np.where(death[:n_c] >= 0, death[:n_c], closing)
    care = plan_care(
        rng,
        tumour_site=cohort.site,
        stage=cohort.stage,
        diagnosis_days=cohort.diagnosis_days,
        basis=details["basis_of_diagnosis"],
        details=details,
        person_index=cohort.person_index,
        hospitals=hospitals,
        hospital_count=count,
        end_days=end_days,
        closing=closing,
    )
    draw_pathology(
        rng,
        site=cohort.site,
        cols=details,
        has_surgery=care.has_surgery,
        neoadjuvant=care.neoadjuvant,
    )
    # which feeds capture each tumour (capture.py); the outside care sends no feed
    age = age_in_years(birth[cohort.person_index], cohort.diagnosis_days)
    person_death = death[:n_c][cohort.person_index]
    capture = draw_capture(
        rng,
        age=age,
        days_to_death=np.where(person_death >= 0, person_death - cohort.diagnosis_days, -1),
        tissue=np.asarray(details["basis_of_diagnosis"]) == 7,
        person_index=cohort.person_index,
        person_departement=np.asarray(persons["departement"])[:n_c],
    )
    outside_h, outside_lab = len(HOSPITALS), len(LABS)
    # deaths: place and certificate
    dead = death >= 0
    hosp_dept = np.array([f.departement for f in HOSPITALS])
    first_commune = dict(zip(geo.dept_codes.tolist(), geo.dept_first_commune.tolist(), strict=True))
    hosp_commune = np.array([geo.commune[first_commune[d]] for d in hosp_dept])
    at_hospital = np.zeros(n, bool)
    at_hospital[:n_c] = rng.random(n_c) < np.where(from_cancer[:n_c], 0.6, 0.3)
    main_commune = np.full(n, "", dtype="<U5")
    main_commune[:n_c] = hosp_commune[hospitals[:, 0]]
    death_commune = np.where(at_hospital, main_commune, np.asarray(persons["residence_commune"]))
    certificate = rng.integers(1, 3000, size=n).astype(str)
    person_table = pa.Table.from_pydict(
        {
            "person_key": pa.array(keys),
            "sex": pa.array(persons["sex"].astype(object)),
            "birth_date": to_arrow(birth),
            "birth_commune": pa.array(np.asarray(persons["birth_commune"]).astype(object)),
            "birth_family_name": persons["birth_family_name"],
            "used_family_name": persons["used_family_name"],
            "first_names": persons["first_names"],
            "nir": pa.array(np.asarray(persons["nir"]).astype(object)),
            "ins": pa.array(np.asarray(persons["nir"]).astype(object)),
            "address_line": persons["address_line"],
            "postcode": pa.array(np.asarray(persons["postcode"]).astype(object)),
            "residence_commune": pa.array(np.asarray(persons["residence_commune"]).astype(object)),
            "departement": pa.array(np.asarray(persons["departement"]).astype(object)),
            "region": pa.array(np.asarray(persons["region"]).astype(object)),
            "is_cancer_patient": pa.array(is_cancer),
            "death_date": to_arrow(np.maximum(death, 0), mask=~dead),
            "death_commune": pa.array(death_commune.astype(object), mask=~dead, type=pa.string()),
            "death_certificate": pa.array(certificate.astype(object), mask=~dead, type=pa.string()),
            "death_from_cancer": pa.array(from_cancer, mask=~dead),
            "vital_status_date": to_arrow(np.where(dead, death, closing)),
        },
        schema=PERSONS,
    )
    # tumours
    m = len(cohort.site)
    tumour_keys = _keys(index, m)
    tumour_person = keys[cohort.person_index]
    tumour_cols: dict[str, pa.Array] = {
        "tumour_key": pa.array(tumour_keys),
        "person_key": pa.array(tumour_person),
        "tumour_number": pa.array(cohort.tumour_number, type=pa.int8()),
        "site_group": pa.array(cohort.site.astype(object), type=pa.string()),
        "diagnosis_date": to_arrow(cohort.diagnosis_days),
        "age_at_diagnosis": pa.array(age, type=pa.int16()),
        "basis_of_diagnosis": pa.array(details["basis_of_diagnosis"], type=pa.int8()),
        "stage_group": pa.array(details["stage_group"], type=pa.string()),
        "neoadjuvant": pa.array(care.neoadjuvant),
        "captured_hospital": pa.array(capture.hospital),
        "captured_pathology": pa.array(capture.pathology),
        "captured_registry": pa.array(capture.registry),
    }
    for field in TUMOURS:
        if field.name not in tumour_cols:
            tumour_cols[field.name] = _nullable(details[field.name], field.type)
    tumour_table = pa.Table.from_pydict(tumour_cols, schema=TUMOURS)
    # treatments, visits, specimens
    tr = care.treatments
    tr_tumour = tr["tumour"].astype(np.int64)
    tr_end = tr["end"].astype(np.int64)
    tr_hosp = np.where(capture.hospital[tr_tumour], tr["hospital"].astype(np.int64), outside_h)
    treatment_table = pa.Table.from_pydict(
        {
            "treatment_key": pa.array(_keys(index, len(tr_tumour))),
            "tumour_key": pa.array(tumour_keys[tr_tumour]),
            "person_key": pa.array(tumour_person[tr_tumour]),
            "hospital_id": pa.array(ALL_HOSPITAL_IDS[tr_hosp].astype(object)),
            "kind": pa.array(tr["kind"], type=pa.string()),
            "start_date": to_arrow(tr["start"].astype(np.int64)),
            "end_date": to_arrow(np.maximum(tr_end, 0), mask=tr_end < 0),
            "code": pa.array(tr["code"], type=pa.string()),
            "code_system": pa.array(tr["code_system"], type=pa.string()),
            "description": pa.array(tr["description"], type=pa.string()),
            "cycles": _nullable(tr["cycles"].astype(np.float64), pa.int16()),
            "dose_gy": _nullable(tr["dose_gy"].astype(np.float64), pa.float64()),
            "fractions": _nullable(tr["fractions"].astype(np.float64), pa.int16()),
        },
        schema=TREATMENTS,
    )
    vi = care.visits
    vi_tumour = vi["tumour"].astype(np.int64)
    vi_hosp = np.where(capture.hospital[vi_tumour], vi["hospital"].astype(np.int64), outside_h)
    visit_table = pa.Table.from_pydict(
        {
            "visit_key": pa.array(_keys(index, len(vi_tumour))),
            "person_key": pa.array(tumour_person[vi_tumour]),
            "tumour_key": pa.array(tumour_keys[vi_tumour]),
            "hospital_id": pa.array(ALL_HOSPITAL_IDS[vi_hosp].astype(object)),
            "kind": pa.array(vi["kind"], type=pa.string()),
            "start_date": to_arrow(vi["start"].astype(np.int64)),
            "end_date": to_arrow(vi["end"].astype(np.int64)),
            "reason": pa.array(vi["reason"], type=pa.string()),
        },
        schema=VISITS,
    )
    sp = care.specimens
    sp_tumour = sp["tumour"].astype(np.int64)
    sp_hosp = np.where(capture.hospital[sp_tumour], sp["hospital"].astype(np.int64), outside_h)
    sp_lab = np.where(capture.lab[sp_tumour], sp["lab"].astype(np.int64), outside_lab)
    specimen_table = pa.Table.from_pydict(
        {
            "specimen_key": pa.array(_keys(index, len(sp_tumour))),
            "tumour_key": pa.array(tumour_keys[sp_tumour]),
            "person_key": pa.array(tumour_person[sp_tumour]),
            "lab_id": pa.array(ALL_LAB_IDS[sp_lab].astype(object)),
            "hospital_id": pa.array(ALL_HOSPITAL_IDS[sp_hosp].astype(object)),
            "collected_date": to_arrow(sp["collected"].astype(np.int64)),
            "procedure": pa.array(sp["procedure"], type=pa.string()),
            "post_neoadjuvant": pa.array(sp["post_neoadjuvant"].astype(bool)),
        },
        schema=SPECIMENS,
    )
    # who is known to which source
    sources, kinds, who = _source_pairs(
        visit_person=cohort.person_index[vi_tumour],
        visit_hospital=vi_hosp,
        specimen_person=cohort.person_index[sp_tumour],
        specimen_lab=sp_lab,
        registered_person=cohort.person_index[capture.registry],
        departement=np.asarray(persons["departement"]),
        dead=dead,
    )
    records = build_source_records(
        rng,
        persons,
        source_ids=sources,
        kinds=kinds,
        person_index=who,
        rates=config.noise_rates(),
        seed=config.seed,
    )
    return TruthChunk(
        index=index,
        persons=person_table,
        tumours=tumour_table,
        treatments=treatment_table,
        source_records=records,
        visits=visit_table,
        specimens=specimen_table,
    )


def _source_pairs(
    *,
    visit_person: IntArray,
    visit_hospital: IntArray,
    specimen_person: IntArray,
    specimen_lab: IntArray,
    registered_person: IntArray,
    departement: np.ndarray,
    dead: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, IntArray]:
    """(source_id, kind, person index) of every source record, sorted by source then person.

    Only the participating hospitals and labs know anyone (the outside ones send nothing);
    a registry knows the registered persons of its départements; INSEE every decedent."""
    ids: list[np.ndarray] = []
    kinds: list[np.ndarray] = []
    who: list[np.ndarray] = []
    for codes, person, labels, kind in (
        (visit_hospital, visit_person, HOSPITAL_IDS, "hospital"),
        (specimen_lab, specimen_person, LAB_IDS, "lab"),
    ):
        inside = codes < len(labels)
        pair = np.unique(codes[inside] * 10_000_000 + person[inside])
        ids.append(labels[pair // 10_000_000])
        who.append(pair % 10_000_000)
        kinds.append(np.full(len(pair), kind))
    registered = np.unique(registered_person)
    for registry in REGISTRIES:
        p = registered[np.isin(departement[registered], list(registry.covers))]
        ids.append(np.full(len(p), registry.id))
        who.append(p)
        kinds.append(np.full(len(p), "registry"))
    p = np.flatnonzero(dead)
    ids.append(np.full(len(p), "INSEE"))
    who.append(p)
    kinds.append(np.full(len(p), "deaths"))
    return (
        np.concatenate(ids).astype("<U8"),
        np.concatenate(kinds).astype("<U8"),
        np.concatenate(who).astype(np.int64),
    )
