"""The whole platform on a small synthetic nation, checked against its ground truth:
synthetic feeds → ingest → link → load → statistics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from oncobase.config import Settings, load_settings
from oncobase.linkage import person_index_table
from oncobase.pipeline import run_pipeline
from oncobase.stats.cases import site_groups
from oncobase.store import Backend, connect


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


def test_every_cancer_patient_is_one_person(nation: tuple[Settings, Backend]) -> None:
    settings, backend = nation
    records = truth(settings, "source_records").select(["source_id", "local_id", "person_key"])
    index = person_index_table(settings)
    joined = records.join(index, keys=["source_id", "local_id"], right_keys=["source", "local_id"])
    persons_per_key = joined.group_by("person_key").aggregate([("person_id", "count_distinct")])
    split = pc.sum(pc.greater(persons_per_key["person_id_count_distinct"], 1)).as_py() or 0
    keys_per_person = joined.group_by("person_id").aggregate([("person_key", "count_distinct")])
    merged = pc.sum(pc.greater(keys_per_person["person_key_count_distinct"], 1)).as_py() or 0
    patients = int(pc.sum(truth(settings, "persons")["is_cancer_patient"]).as_py())
    assert split / patients <= 0.01  # a patient split over two person ids
    assert merged / patients <= 0.01  # two patients merged into one
    assert abs(backend.count_rows("person") - patients) / patients <= 0.01


def test_deaths_and_incident_cancers_match_the_truth(nation: tuple[Settings, Backend]) -> None:
    settings, backend = nation
    persons = truth(settings, "persons")
    cancer = persons.filter(persons["is_cancer_patient"])
    true_deaths = int(pc.sum(pc.is_valid(cancer["death_date"])).as_py())
    assert abs(backend.count_rows("death") - true_deaths) <= max(2, 0.01 * true_deaths)
    groups = site_groups()

    def group_of(code: str) -> str:
        c3 = code.replace(".", "")[:3]
        return next(g.key for g in groups if g.first <= c3 <= g.last)

    expected = Counter(group_of(c) for c in truth(settings, "tumours")["icd10"].to_pylist())
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
