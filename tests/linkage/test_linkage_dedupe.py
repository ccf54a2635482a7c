from __future__ import annotations

import pyarrow as pa

from oncobase.linkage import Thresholds, link_identities, pairwise_scores


def _scores(records: pa.Table, clusters: pa.Array) -> float:
    predicted = pa.table({"record_id": records["record_id"], "cluster_id": clusters})
    return pairwise_scores(predicted, records.select(["record_id", "person"])).f1


def test_f1_on_differently_noised_records(noisy_records: pa.Table) -> None:
    result = link_identities(noisy_records.drop(["person"]))
    assert _scores(noisy_records, result.clusters["cluster"]) >= 0.99
    assert result.model["comparisons"][0]["comparison_levels"][1]["m_probability"] > 0.5


def _record(rid: str, person: str, **values: str) -> dict[str, str]:
    base = {
        "record_id": rid, "source": "S" + rid[-1], "nir": "", "last_name": "Lambert",
        "birth_name": "", "first_names": "Paul", "sex": "M", "birth_date": "1961-04-12",
        "birth_place_code": "35238", "postcode": "35000", "person": person,
    }  # fmt: skip
    base.update(values)
    return base


def test_twins_and_namesakes_stay_apart(noisy_records: pa.Table) -> None:
    special = [
        # twins: same birth date, family name, place, address; other first names
        _record("tw-a1", "twinA", first_names="Paul Marie"),
        _record("tw-a2", "twinA", first_names="PAUL", last_name="LAMBERT"),
        _record("tw-b1", "twinB", first_names="Rémi"),
        _record("tw-b2", "twinB", first_names="Remi Jacques", postcode="35200"),
        # namesakes: same names, born the same year, different dates and places
        _record("ns-a1", "nsA", last_name="Girard", first_names="Anne", sex="F",
                birth_date="1975-02-03", birth_place_code="69123", postcode="69003"),
        _record("ns-a2", "nsA", last_name="GIRARD", first_names="Anne Claire", sex="F",
                birth_date="1975-02-03", birth_place_code="69123", postcode="69100"),
        _record("ns-b1", "nsB", last_name="Girard", first_names="Anne", sex="F",
                birth_date="1975-09-21", birth_place_code="13055", postcode="13008"),
        _record("ns-b2", "nsB", last_name="Girard", first_names="ANNE", sex="F",
                birth_date="1975-09-21", birth_place_code="13055", postcode="13008"),
    ]  # fmt: skip
    extra = pa.Table.from_pylist(special).cast(noisy_records.schema)
    records = pa.concat_tables([noisy_records, extra])
    result = link_identities(records.drop(["person"]), thresholds=Thresholds())
    ids = dict(zip(records["record_id"].to_pylist(), result.clusters["cluster"].to_pylist(),
                   strict=True))  # fmt: skip
    assert ids["tw-a1"] == ids["tw-a2"] and ids["tw-b1"] == ids["tw-b2"]
    assert ids["tw-a1"] != ids["tw-b1"]
    assert ids["ns-a1"] == ids["ns-a2"] and ids["ns-b1"] == ids["ns-b2"]
    assert ids["ns-a1"] != ids["ns-b1"]
