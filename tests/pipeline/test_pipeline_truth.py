"""The whole platform on a small synthetic nation, checked against its ground truth:
synthetic feeds → ingest → link → load → statistics.

The feeds do not capture every true cancer (synth/capture.py): a tumour seen by no
participating hospital and registered by no registry is in no feed this pipeline loads (the
pathology feed needs the NLP step, not run here). The store is compared with the captured
truth, and the uncaptured cases are counted apart: they are the platform's blind spot, which
capture-recapture estimates (tests/cohorts/test_cohorts_capture_synth.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from oncobase.config import Settings, load_settings
from oncobase.linkage import person_index_table
from oncobase.pipeline import run_pipeline
from oncobase.stats.cases import site_groups
from oncobase.store import Backend, connect
from oncobase.synth.capture import OUTSIDE_HOSPITAL


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Backend]:
    home = tmp_path_factory.mktemp("nation")
    settings = load_settings(home=home, synth_patients=400, synth_seed=5)
    backend = connect(settings=settings)
    only = ("vocab", "synth", "ingest", "link", "load", "stats")
    for step in only:
        run_pipeline(backend, settings, only=step, show_progress=False)
    return settings, backend


def truth(settings: Settings, table: str):
    return pq.read_table(Path(settings.synth_path) / "truth" / f"{table}.parquet")


def captured_tumours(settings: Settings) -> pa.Table:
    """True tumours in a feed this pipeline loads: a participating hospital or a registry."""
    tumours = truth(settings, "tumours")
    return tumours.filter(pc.or_(tumours["captured_hospital"], tumours["captured_registry"]))


def captured_patients(settings: Settings) -> tuple[pa.Table, int]:
    """The cancer patients with a captured tumour, and how many patients have none."""
    persons = truth(settings, "persons")
    cancer = persons.filter(persons["is_cancer_patient"])
    keys = pc.unique(captured_tumours(settings)["person_key"])
    captured = cancer.filter(pc.is_in(cancer["person_key"], value_set=keys))
    return captured, cancer.num_rows - captured.num_rows


def hospital_patient_ids(settings: Settings) -> pa.Table:
    """(source, FHIR Patient.id, the hospital's own patient number) of every export."""
    rows: dict[str, list[str]] = {"source": [], "patient_id": [], "local_id": []}
    for path in sorted((settings.synth_path / "feeds" / "hospitals").glob("*/Patient.ndjson")):
        for line in path.read_text().splitlines():
            patient = json.loads(line)
            ipp = next(i["value"] for i in patient["identifier"] if i["system"].endswith("/ipp"))
            rows["source"].append(path.parent.name)
            rows["patient_id"].append(patient["id"])
            rows["local_id"].append(ipp)
    return pa.table(rows)


def truth_to_person(settings: Settings) -> pa.Table:
    """(person_key, person_id, source) for every source record the platform has linked."""
    records = truth(settings, "source_records").select(["source_id", "local_id", "person_key"])
    index = person_index_table(settings)
    # hospitals key their records by FHIR Patient.id; the truth by the hospital's number
    fhir = hospital_patient_ids(settings)
    hospital_index = (
        index.join(
            fhir,
            keys=["source", "local_id"],
            right_keys=["source", "patient_id"],
            join_type="inner",
            right_suffix="_right",
        )
        .select(["source", "local_id_right", "person_id"])
        .rename_columns(["source", "local_id", "person_id"])
    )
    index = pa.concat_tables([index.select(["source", "local_id", "person_id"]), hospital_index])
    # the death file is keyed by death date, place and certificate number
    persons = truth(settings, "persons").filter(
        pc.is_valid(truth(settings, "persons")["death_date"])
    )
    deaths = pa.table(
        {
            "source_id": pa.array(["INSEE"] * persons.num_rows),
            "local_id": pc.binary_join_element_wise(
                pc.strftime(persons["death_date"], format="%Y%m%d"),
                persons["death_commune"],
                persons["death_certificate"],
                "-",
            ),
            "person_key": persons["person_key"],
        }
    )
    records = pa.concat_tables(
        [records.filter(pc.not_equal(records["source_id"], "INSEE")), deaths],
        promote_options="permissive",
    )
    return records.join(
        index, keys=["source_id", "local_id"], right_keys=["source", "local_id"], join_type="inner"
    )


def test_every_cancer_patient_is_one_person(nation: tuple[Settings, Backend]) -> None:
    settings, backend = nation
    joined = truth_to_person(settings)
    linked_sources = set(joined["source_id"].to_pylist())
    assert {s for s in linked_sources if s.startswith("HOSP")}, "hospital records must be linked"
    assert {s for s in linked_sources if s.startswith("REG_")}
    assert "INSEE" in linked_sources
    persons_per_key = joined.group_by("person_key").aggregate([("person_id", "count_distinct")])
    split = pc.sum(pc.greater(persons_per_key["person_id_count_distinct"], 1)).as_py() or 0
    keys_per_person = joined.group_by("person_id").aggregate([("person_key", "count_distinct")])
    merged = pc.sum(pc.greater(keys_per_person["person_key_count_distinct"], 1)).as_py() or 0
    captured, uncaptured = captured_patients(settings)
    patients = captured.num_rows
    print(f"{patients} captured cancer patients, {uncaptured} in no loaded feed")
    assert 0 < uncaptured < 0.15 * (patients + uncaptured)
    assert split / patients <= 0.01  # a patient split over two person ids
    assert merged / patients <= 0.01  # two patients merged into one
    assert abs(backend.count_rows("person") - patients) / patients <= 0.01


def test_deaths_and_incident_cancers_match_the_truth(nation: tuple[Settings, Backend]) -> None:
    settings, backend = nation
    cancer, _ = captured_patients(settings)  # the death file has everyone; the store, persons
    true_deaths = int(pc.sum(pc.is_valid(cancer["death_date"])).as_py())
    assert abs(backend.count_rows("death") - true_deaths) <= max(2, 0.01 * true_deaths)
    groups = site_groups()

    def group_of(code: str) -> str:
        c3 = code.replace(".", "")[:3]
        return next(g.key for g in groups if g.first <= c3 <= g.last)

    expected = Counter(group_of(c) for c in captured_tumours(settings)["icd10"].to_pylist())
    got = {
        r["site_group"]: r["cases"]
        for r in backend.query_arrow(
            "SELECT site_group, sum(cases) AS cases FROM stats__incidence GROUP BY 1"
        ).to_pylist()
    }
    total_expected = sum(expected.values())
    # a second primary of the same site group in one person counts once (IARC rules)
    assert total_expected * 0.98 <= sum(got.values()) <= total_expected
    for group, count in expected.items():
        assert abs(got.get(group, 0) - count) <= max(2, 0.05 * count), group


def test_no_identity_in_the_clinical_store(nation: tuple[Settings, Backend]) -> None:
    settings, backend = nation
    persons = truth(settings, "persons")
    names = {n.upper() for n in persons["birth_family_name"].to_pylist() if len(n) > 6}
    nirs = set(persons["nir"].to_pylist())
    for table in backend.list_tables():
        dump = str(backend.query_arrow(f'SELECT * FROM "{table}"').to_pylist()).upper()
        assert not [n for n in list(names)[:200] if n in dump], table
        assert not [n for n in nirs if n in dump], table


def test_treatments_and_stages_of_the_truth_are_in_omop(nation: tuple[Settings, Backend]) -> None:
    settings, backend = nation
    given = truth(settings, "treatments")  # those given outside send no feed
    given = given.filter(pc.not_equal(given["hospital_id"], OUTSIDE_HOSPITAL))
    treatments = Counter(given["kind"].to_pylist())
    radiotherapy = backend.scalar(
        "SELECT count(*) FROM procedure_occurrence WHERE procedure_source_value = '1217123003'"
    )
    surgery = backend.scalar(
        "SELECT count(*) FROM procedure_occurrence WHERE procedure_source_value <> '1217123003'"
    )
    assert radiotherapy == treatments["radiotherapy"]
    assert surgery == treatments["surgery"]
    # each systemic treatment line: one MedicationRequest and one MedicationAdministration
    assert backend.count_rows("drug_exposure") == 2 * treatments["systemic"]
    assert (
        backend.scalar("SELECT count(*) FROM drug_exposure WHERE drug_source_value NOT LIKE 'L0%'")
        == 0
    )
    # every staged tumour: its stage group recorded for its person (via the person index)
    tumours = captured_tumours(settings)
    tumours = tumours.filter(pc.is_valid(tumours["stage_group"]))
    keys = truth_to_person(settings)
    person_of = dict(
        zip(keys["person_key"].to_pylist(), keys["person_id"].to_pylist(), strict=True)
    )
    stages = backend.query_arrow(
        "SELECT DISTINCT person_id, value_source_value FROM measurement "
        "WHERE value_source_value IS NOT NULL"
    )
    recorded = set(
        zip(stages["person_id"].to_pylist(), stages["value_source_value"].to_pylist(), strict=True)
    )
    missing = [
        t
        for t in tumours.to_pylist()
        if (person_of.get(t["person_key"]), t["stage_group"]) not in recorded
    ]
    assert len(missing) <= 0.01 * tumours.num_rows
