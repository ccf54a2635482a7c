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


def _namesakes(records: pa.Table, persons: int) -> pa.Table:
    """For ``persons`` persons, two records of a namesake: same names, sex, birth place and
    postcode, born 7 to 15 years and some months apart, without NIR (what a large population
    has plenty of)."""
    import datetime as dt
    import random

    rng = random.Random(3)
    firsts: dict[str, dict[str, object]] = {}
    for row in records.to_pylist():
        try:
            born = dt.date.fromisoformat(row["birth_date"] or "")
        except ValueError:  # the generator writes some invalid dates
            continue
        if row["person"] not in firsts:
            firsts[row["person"]] = {**row, "_born": born}
    out = []
    for person, row in list(firsts.items())[:persons]:
        born = row.pop("_born")
        assert isinstance(born, dt.date)
        month = (born.month - 1 + rng.randint(3, 8)) % 12 + 1
        year = born.year + rng.choice([-1, 1]) * rng.randint(7, 15)
        other = dt.date(year, month, rng.randint(1, 28))
        for k in range(2):
            out.append({**row, "record_id": f"ns-{person}-{k}", "person": f"ns-{person}",
                        "nir": "", "birth_date": other.isoformat()})  # fmt: skip
    return pa.Table.from_pylist(out).cast(records.schema)


def test_namesakes_born_years_apart_stay_apart(noisy_records: pa.Table) -> None:
    """Same names, same birth place and postcode, another birth date: not the same person.
    EM blocked on names took such pairs for matches (m("birth dates differ") of 4 % at 1M
    synthetic records, 20 % here); the model now learns the birth-date m on pairs sharing a
    valid NIR, a level never seen among them weighs against a match (the floor), and a pair
    whose birth dates disagree is held for review and cannot be chained into one person."""
    namesakes = _namesakes(noisy_records, 400)
    records = pa.concat_tables([noisy_records, namesakes])
    result = link_identities(records.drop(["person"]))
    birth_date = next(
        c for c in result.model["comparisons"] if c["output_column_name"] == "birth_date"
    )
    other = birth_date["comparison_levels"][-1]
    assert other["label_for_charts"] == "All other comparisons"
    assert 0 < other["m_probability"] <= 0.01
    cluster = dict(zip(records["record_id"].to_pylist(), result.clusters["cluster"].to_pylist(),
                       strict=True))  # fmt: skip
    person = dict(zip(records["record_id"].to_pylist(), records["person"].to_pylist(),
                      strict=True))  # fmt: skip
    by_cluster: dict[int, set[str]] = {}
    for rid, c in cluster.items():
        by_cluster.setdefault(c, set()).add(person[rid])
    merged = sum(
        1 for members in by_cluster.values()
        if any(p.startswith("ns-") for p in members) and len(members) > 1
    )  # fmt: skip
    # 2 % of the 400 namesakes (398 before; 0-5 now, the rest of the spread comes from ties
    # in the order DuckDB returns pairs: dates two characters apart are held, not
    # cannot-links, and a record without birth date can still chain such a pair)
    assert merged <= 8, merged
    assert result.counts["held_for_review"] > 0
    assert _scores(records, result.clusters["cluster"]) >= 0.99
