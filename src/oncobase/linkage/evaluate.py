"""Pairwise precision, recall and F1 of a clustering against the truth (vectorised)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import pyarrow as pa

from oncobase.linkage.errors import LinkageError


@dataclass(frozen=True, kw_only=True)
class PairwiseScores:
    """Pair counts and the scores derived from them."""

    true_pairs: int
    predicted_pairs: int
    correct_pairs: int
    records: int

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, float | int]:
        return {
            "records": self.records,
            "true_pairs": self.true_pairs,
            "predicted_pairs": self.predicted_pairs,
            "correct_pairs": self.correct_pairs,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


def pairwise_scores(clusters: pa.Table, truth: pa.Table) -> PairwiseScores:
    """Scores of ``clusters`` (record_id, cluster_id) against ``truth`` (record_id, person).

    Only records present in both tables count; pairs are counted from group sizes, so the
    cost is linear in the number of records.
    """
    for name, table, cols in (
        ("clusters", clusters, ("record_id", "cluster_id")),
        ("truth", truth, ("record_id", "person")),
    ):
        missing = [c for c in cols if c not in table.column_names]
        if missing:
            raise LinkageError(f"The {name} table lacks the column(s) {', '.join(missing)}")
    con = duckdb.connect()
    try:
        con.register("c", clusters.select(["record_id", "cluster_id"]))
        con.register("t", truth.select(["record_id", "person"]))
        row = con.sql(
            """
            WITH j AS (
              SELECT CAST(c.cluster_id AS VARCHAR) AS k, CAST(t.person AS VARCHAR) AS p
              FROM c JOIN t ON CAST(c.record_id AS VARCHAR) = CAST(t.record_id AS VARCHAR)
            )
            SELECT
              (SELECT coalesce(sum(n * (n - 1) // 2), 0)
                 FROM (SELECT count(*) AS n FROM j GROUP BY p)) AS true_pairs,
              (SELECT coalesce(sum(n * (n - 1) // 2), 0)
                 FROM (SELECT count(*) AS n FROM j GROUP BY k)) AS predicted_pairs,
              (SELECT coalesce(sum(n * (n - 1) // 2), 0)
                 FROM (SELECT count(*) AS n FROM j GROUP BY k, p)) AS correct_pairs,
              (SELECT count(*) FROM j) AS records
            """
        ).fetchall()[0]
    finally:
        con.close()
    assert row is not None
    return PairwiseScores(
        true_pairs=int(row[0]),
        predicted_pairs=int(row[1]),
        correct_pairs=int(row[2]),
        records=int(row[3]),
    )
