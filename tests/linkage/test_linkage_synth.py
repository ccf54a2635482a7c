"""Acceptance on the synthetic nation's feeds (``oncobase.synth.generate_nation``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import oncobase.synth as synth
from oncobase.linkage import (
    from_source_records,
    link_identities,
    pairwise_scores,
    vital_status,
)
from oncobase.linkage.evaluate import PairwiseScores


def _nation(tmp: Path, patients: int, seed: int) -> pa.Table:
    synth.generate_nation(tmp, patients=patients, seed=seed, feeds=())
    truth = pq.read_table(tmp / "truth" / "source_records.parquet")
    return truth.append_column(
        "record_key", pc.binary_join_element_wise(truth["source_id"], truth["local_id"], ":")
    )


def _cross(clusters: pa.Table, truth: pa.Table, mask: pa.ChunkedArray) -> PairwiseScores:
    """Scores of the pairs between a record in ``mask`` and one outside it."""
    whole = pairwise_scores(clusters, truth)
    inside = pairwise_scores(clusters.filter(mask), truth.filter(mask))
    outside = pairwise_scores(clusters.filter(pc.invert(mask)), truth.filter(pc.invert(mask)))

    def diff(name: str) -> int:
        return int(getattr(whole, name) - getattr(inside, name) - getattr(outside, name))

    return PairwiseScores(true_pairs=diff("true_pairs"), predicted_pairs=diff("predicted_pairs"),
                          correct_pairs=diff("correct_pairs"), records=whole.records)  # fmt: skip


def _check(tmp: Path, patients: int, seed: int) -> None:
    truth = _nation(tmp, patients, seed)
    records = from_source_records(truth).set_column(0, "record_id", truth["record_key"])
    result = link_identities(records)
    clusters = pa.table(
        {"record_id": truth["record_key"], "cluster_id": result.clusters["cluster"]}
    )
    persons = pa.table({"record_id": truth["record_key"], "person": truth["person_key"]})
    deaths = pc.equal(truth["source_kind"], "deaths")
    care = pairwise_scores(clusters.filter(pc.invert(deaths)), persons.filter(pc.invert(deaths)))
    death_links = _cross(clusters, persons, deaths)
    assert care.f1 >= 0.995, care.to_dict()
    assert death_links.f1 >= 0.99, death_links.to_dict()
    # vital status: person_id from the clusters, death dates from the truth persons
    people = pq.read_table(tmp / "truth" / "persons.parquet").select(["person_key", "death_date"])
    death_date = pc.take(
        people["death_date"], pc.index_in(truth["person_key"], value_set=people["person_key"])
    )
    staged = pa.table({
        "source": records["source"], "record_id": records["record_id"],
        "source_kind": truth["source_kind"],
        "death_date": pc.if_else(deaths, death_date, pa.scalar(None, pa.date32())),
    })  # fmt: skip
    index = pa.table({"source": records["source"], "local_id": records["record_id"],
                      "person_id": result.clusters["cluster"]})  # fmt: skip
    status = vital_status(index, staged, closing_date=dt.date(2025, 12, 31))
    assert set(status["vital_status"].to_pylist()) <= {"alive", "deceased"}
    assert status.num_rows > 0
    dead = pc.equal(status["vital_status"], "alive")
    assert pc.all(pc.equal(status.filter(dead)["censor_date"], dt.date(2025, 12, 31))).as_py()


def test_synthetic_feeds_small(tmp_path: Path) -> None:
    _check(tmp_path, 1500, 3)


@pytest.mark.slow
def test_synthetic_feeds_large(tmp_path: Path) -> None:
    _check(tmp_path, 50_000, 7)
