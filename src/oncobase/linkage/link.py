"""Linking identity records: deterministic passes, then Splink's Fellegi-Sunter model.

Everything runs in an in-memory DuckDB database that lives only as long as the call: the
clear identity features never touch the disk. Input and output are Arrow tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.linkage._graph import constrained_components
from oncobase.linkage.errors import LinkageError
from oncobase.linkage.model import (
    CONFLICT_SQL,
    DETERMINISTIC_RULES,
    FALLBACK_TRAINING_RULE,
    HOLD_SQL,
    MIN_IDENTIFIED_PAIRS,
    TRAINING_RULES,
    UNIQUE_ID,
    VETO_SQL,
    Thresholds,
    build_settings,
    copy_settings,
)
from oncobase.linkage.normalise import normalise_identities, problem_counts
from oncobase.logging import get_logger

Progress = Callable[[str], None]
log = get_logger(__name__)

DECISIONS_SCHEMA = pa.schema(
    [
        ("source_l", pa.string()),
        ("record_id_l", pa.string()),
        ("source_r", pa.string()),
        ("record_id_r", pa.string()),
        ("decision", pa.string()),  # "match" or "non-match"
    ]
)

REVIEW_SCHEMA = pa.schema(
    [
        ("pair_id", pa.string()),
        ("source_l", pa.string()),
        ("record_id_l", pa.string()),
        ("source_r", pa.string()),
        ("record_id_r", pa.string()),
        ("match_probability", pa.float64()),
    ]
)


@dataclass(frozen=True, kw_only=True)
class LinkResult:
    """Clusters (one row per input record, input order) and what the run learnt."""

    clusters: pa.Table  # source, record_id, cluster (int64: smallest row number in the cluster)
    review: pa.Table  # REVIEW_SCHEMA: uncertain pairs, not yet decided
    model: dict[str, Any]
    thresholds: Thresholds
    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)


def _quiet_splink() -> None:
    logging.getLogger("splink").setLevel(logging.ERROR)


_NIR_WEIGHT = 2.0
_DECIDED_WEIGHT = 3.0


def _ints(column: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    return np.asarray(column.to_numpy(), dtype=np.int64)


M_FLOOR = 1e-3
U_FLOOR = 1e-7


def floor_probabilities(settings: dict[str, Any]) -> dict[str, Any]:
    """Keep every m and u above a small floor: a level never seen among matches in this data
    (a birth-date typo, a sex error) must weigh against a match, not forbid it. A level that
    training never observed (no value) gets the floor too: Splink would otherwise give it no
    weight at all, so that "birth dates differ" would not count against a match."""
    for comparison in settings.get("comparisons", []):
        for level in comparison.get("comparison_levels", []):
            if level.get("is_null_level") or level.get("fix_m_probability"):
                continue
            level["m_probability"] = max(float(level.get("m_probability") or 0.0), M_FLOOR)
            level["u_probability"] = max(float(level.get("u_probability") or 0.0), U_FLOOR)
    return settings


def _splink() -> tuple[Any, Any]:
    from splink import DuckDBAPI, Linker

    return DuckDBAPI, Linker


def identified_pairs(features: pa.Table) -> int:
    """Pairs of records that share a valid NIR (``nir_id``)."""
    counts = pc.value_counts(pc.drop_null(features["nir_id"]))
    n = np.asarray(counts.field("counts").to_numpy(), dtype=np.int64)
    return int((n * (n - 1) // 2).sum())


def train_model(linker: Any, *, n_records: int, identified: int = 0, seed: int = 2026) -> None:
    """Estimate λ, u (random sampling) and m (EM on two blocking rules) without labels.
    ``identified``: pairs sharing a valid NIR; with fewer than ``MIN_IDENTIFIED_PAIRS`` the
    second session blocks on names instead (see ``model.TRAINING_RULES``)."""
    linker.training.estimate_probability_two_random_records_match(
        list(DETERMINISTIC_RULES), recall=0.8
    )
    max_pairs = float(min(max(n_records * 20, 1_000_000), 5_000_000))
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs, seed=seed)
    trained = 0
    sessions: list[list[str]] = [[TRAINING_RULES[0]], [TRAINING_RULES[1], FALLBACK_TRAINING_RULE]]
    if identified < MIN_IDENTIFIED_PAIRS:
        sessions[1] = [FALLBACK_TRAINING_RULE]
    for choices in sessions:
        for rule in choices:  # the first rule that trains
            try:
                linker.training.estimate_parameters_using_expectation_maximisation(
                    rule, estimate_without_term_frequencies=True, max_pairs=2_000_000
                )
                trained += 1
                break
            except ValueError:
                # Splink 5 refuses an m that EM drove to exactly 0 (small or very clean
                # data): try the next rule, or keep the estimates of the other session.
                log.warning("an EM training session did not converge to usable values")
    if trained == 0:
        raise LinkageError(
            "The linkage model could not be trained on these records (too few, or too few "
            "agreeing pairs); link more records at once"
        )


def _splink_input(features: pa.Table) -> pa.Table:
    keep = [c for c in features.column_names if c not in ("problems", "death_date")]
    table = features.select(keep)
    return table.append_column(UNIQUE_ID, pa.array(np.arange(features.num_rows, dtype=np.int64)))


def _pair_key_sql(prefix: str) -> str:
    return f"(source_{prefix} || chr(31) || record_id_{prefix})"


def pair_id_sql(a: str = "l", b: str = "r") -> str:
    """SQL: a stable, non-identifying id for an unordered pair of (source, record_id)."""
    ka, kb = _pair_key_sql(a), _pair_key_sql(b)
    return f"substr(sha256(least({ka}, {kb}) || chr(30) || greatest({ka}, {kb})), 1, 16)"


def predict_pairs(
    features: pa.Table,
    *,
    model: dict[str, Any] | None,
    thresholds: Thresholds,
    restrict_to_new: bool = False,
    seed: int = 2026,
    timings: dict[str, float] | None = None,
    threads: int | None = None,
) -> tuple[pa.Table, dict[str, Any]]:
    """Scored pairs (uid_l, uid_r, match_probability) at or above the review threshold."""
    _quiet_splink()
    timings = timings if timings is not None else {}
    duckdb_api, linker_cls = _splink()
    data = _splink_input(features)
    settings = copy_settings(model) if model is not None else build_settings()
    if restrict_to_new:
        # Two rules per rule, each with a one-sided condition that DuckDB pushes below the
        # join: the hash joins then only produce pairs that involve a new record, instead
        # of producing every stored×stored pair and filtering them out.
        rules = [
            f"({rule['blocking_rule'] if isinstance(rule, dict) else rule})"
            for rule in settings["blocking_rules_to_generate_predictions"]
        ]
        flags = np.asarray(features["is_new"].to_numpy(zero_copy_only=False), dtype=bool)
        new_last = not np.any(flags[:-1] & ~flags[1:])
        # Splink keeps the pairs with l.uid < r.uid: when the new records come last, the
        # right-hand record of any pair involving one is new.
        settings["blocking_rules_to_generate_predictions"] = [
            *(f"{rule} AND r.is_new" for rule in rules),
            *(() if new_last else (f"{rule} AND l.is_new AND NOT r.is_new" for rule in rules)),
        ]
    db_api = duckdb_api(
        duckdb.connect(config={"threads": threads}) if threads is not None else ":memory:"
    )
    # A stored model was checked when it was trained: skip Splink's SQL validation.
    linker = linker_cls(
        db_api.register(data), settings, log_level=logging.ERROR, validate_settings=model is None
    )
    if model is None:
        started = time.perf_counter()
        train_model(
            linker, n_records=data.num_rows, identified=identified_pairs(features), seed=seed
        )
        floored = floor_probabilities(linker.misc.save_model_to_json())
        linker = linker_cls(
            db_api.register(data), floored, log_level=logging.ERROR, validate_settings=False
        )
        timings["train"] = time.perf_counter() - started
    predictions = linker.inference.predict(threshold_match_probability=thresholds.review)
    pairs = (
        predictions.as_duckdbpyrelation().select("uid_l, uid_r, match_probability").to_arrow_table()
    )
    trained: dict[str, Any] = linker.misc.save_model_to_json()
    if restrict_to_new and model is not None:
        trained["blocking_rules_to_generate_predictions"] = model[
            "blocking_rules_to_generate_predictions"
        ]
    return pairs, trained


def _deterministic_edges(con: duckdb.DuckDBPyConnection) -> pa.Table:
    return con.sql(
        "SELECT uid AS uid_l, min(uid) OVER (PARTITION BY nir_id) AS uid_r FROM feats "
        "WHERE nir_id IS NOT NULL"
    ).to_arrow_table()


def link_features(
    features: pa.Table,
    *,
    model: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None,
    decisions: pa.Table | None = None,
    prior_clusters: pa.Array | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> LinkResult:
    """Link normalised identity features (see :func:`link_identities`).

    ``prior_clusters`` (one int64 per row, null for new records) marks records already
    linked in an earlier run: they stay together, and only pairs involving a new record
    are scored (incremental linkage). ``decisions`` (``DECISIONS_SCHEMA``) are clerical
    decisions: a ``match`` forces a link (unless it would join a non-match pair); a
    ``non-match`` is a cannot-link constraint: no cluster ever holds both records, even
    through a chain of other links (edges merged strongest first, an edge that would join a
    cannot-link pair skipped). ``threads``: DuckDB threads of the scoring (None: DuckDB's
    default, one per core).
    """
    thresholds = thresholds or Thresholds()
    say = progress or (lambda text: None)
    timings: dict[str, float] = {}
    n = features.num_rows
    if n == 0:
        empty = pa.table(
            {
                "source": pa.array([], pa.string()),
                "record_id": pa.array([], pa.string()),
                "cluster": pa.array([], pa.int64()),
            }
        )
        return LinkResult(
            clusters=empty,
            review=REVIEW_SCHEMA.empty_table(),
            model=model or build_settings(),
            thresholds=thresholds,
            counts={"records": 0, "clusters": 0},
        )
    incremental = prior_clusters is not None
    feats = features
    if incremental:
        feats = feats.append_column("is_new", pc.is_null(prior_clusters))
    started = time.perf_counter()
    say("scoring candidate pairs")
    try:
        pairs, trained = predict_pairs(
            feats,
            model=model,
            thresholds=thresholds,
            restrict_to_new=incremental,
            timings=timings,
            threads=threads,
        )
    except LinkageError:
        raise
    except Exception as exc:  # splink raises many types; never echo the data
        raise LinkageError(
            f"The probabilistic linkage failed ({type(exc).__name__}); "
            "check the input has enough records with names and birth dates"
        ) from None
    timings["predict"] = time.perf_counter() - started
    say("clustering")
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        keyed = pa.table(
            {
                "uid": pa.array(np.arange(n, dtype=np.int64)),
                "source": features["source"],
                "record_id": features["record_id"],
                "nir_id": features["nir_id"],
                "fn1": features["fn1"],
                "fn1_ph": features["fn1_ph"],
                "fn_list": features["fn_list"],
                "fn_cat": features["fn_cat"],
                "bd_str": features["bd_str"],
                "birth_year": features["birth_year"],
                "bd_swapkey": features["bd_swapkey"],
            }
        )
        con.register("feats", keyed)
        con.register("pairs", pairs)
        det = _deterministic_edges(con)
        con.register("det", det)
        dec = decisions if decisions is not None else DECISIONS_SCHEMA.empty_table()
        con.register("decisions_in", dec.cast(DECISIONS_SCHEMA))
        con.execute(
            f"""
            CREATE TEMP TABLE decided AS
            SELECT a.uid AS uid_l, b.uid AS uid_r, d.decision
            FROM decisions_in d
            JOIN feats a ON a.source = d.source_l AND a.record_id = d.record_id_l
            JOIN feats b ON b.source = d.source_r AND b.record_id = d.record_id_r;
            CREATE TEMP TABLE scored AS
            SELECT p.uid_l, p.uid_r, p.match_probability, p.veto, p.hold, p.conflict,
                   {pair_id_sql()} AS pair_id, source_l, record_id_l, source_r, record_id_r
            FROM (SELECT p.*, a.source AS source_l, a.record_id AS record_id_l,
                         b.source AS source_r, b.record_id AS record_id_r,
                         {VETO_SQL} AS veto, {HOLD_SQL} AS hold,
                         {CONFLICT_SQL} AS conflict
                  FROM pairs p JOIN feats a ON a.uid = p.uid_l JOIN feats b ON b.uid = p.uid_r) p;
            """
        )
        nonmatch = (
            "NOT EXISTS (SELECT 1 FROM decided d WHERE d.decision = 'non-match' AND "
            "least(d.uid_l, d.uid_r) = least(e.uid_l, e.uid_r) AND "
            "greatest(d.uid_l, d.uid_r) = greatest(e.uid_l, e.uid_r))"
        )
        # Edge weights order the constrained clustering: clerical matches first, then NIR
        # links, then scored pairs by decreasing match probability.
        edges = con.sql(
            f"""
            SELECT e.uid_l, e.uid_r, e.weight FROM (
              SELECT uid_l, uid_r, match_probability AS weight FROM scored
              WHERE match_probability >= {thresholds.match} AND NOT veto AND NOT hold
              UNION ALL SELECT uid_l, uid_r, {_NIR_WEIGHT} FROM det WHERE uid_l <> uid_r
              UNION ALL SELECT uid_l, uid_r, {_DECIDED_WEIGHT} FROM decided
                WHERE decision = 'match'
            ) e WHERE {nonmatch}
            """
        ).to_arrow_table()
        # Cannot-links: clerical non-matches, and conflicting pairs (birth dates that
        # disagree) that no clerical decision settled.
        cannot = con.sql(
            "SELECT uid_l, uid_r FROM decided WHERE decision = 'non-match' UNION ALL "
            "SELECT uid_l, uid_r FROM scored s WHERE conflict AND NOT veto AND NOT EXISTS "
            "(SELECT 1 FROM decided d WHERE least(d.uid_l, d.uid_r) = least(s.uid_l, s.uid_r) "
            "AND greatest(d.uid_l, d.uid_r) = greatest(s.uid_l, s.uid_r))"
        ).to_arrow_table()
        review = con.sql(
            f"""
            SELECT pair_id, source_l, record_id_l, source_r, record_id_r, match_probability
            FROM scored s
            WHERE (match_probability < {thresholds.match} OR hold) AND NOT veto
              AND NOT EXISTS (SELECT 1 FROM decided d WHERE
                least(d.uid_l, d.uid_r) = least(s.uid_l, s.uid_r) AND
                greatest(d.uid_l, d.uid_r) = greatest(s.uid_l, s.uid_r))
            ORDER BY match_probability DESC, pair_id
            """
        ).to_arrow_table()
        n_det = det.num_rows
        n_scored = pairs.num_rows
        n_held = con.sql(
            f"SELECT count(*) FROM scored WHERE hold AND NOT veto "
            f"AND match_probability >= {thresholds.match}"
        ).fetchall()[0][0]
    finally:
        con.close()
    node = np.arange(n, dtype=np.int64)
    if incremental:
        # Records already indexed together stay together: each prior cluster is one node
        # (its first row), so a cannot-link between two of its records' persons holds for
        # the whole person.
        prior = np.asarray(pc.fill_null(prior_clusters, -1).to_numpy(zero_copy_only=False))
        old = np.flatnonzero(prior >= 0)
        if len(old):
            order = old[np.argsort(prior[old], kind="stable")]
            groups = prior[order]
            first = np.r_[True, groups[1:] != groups[:-1]]
            heads = order[np.maximum.accumulate(np.where(first, np.arange(len(order)), 0))]
            node[order] = heads
    clustering = constrained_components(
        n,
        node[_ints(edges["uid_l"])],
        node[_ints(edges["uid_r"])],
        np.asarray(edges["weight"].to_numpy(), dtype=np.float64),
        cannot_left=node[_ints(cannot["uid_l"])],
        cannot_right=node[_ints(cannot["uid_r"])],
    )
    cluster = clustering.labels[node]
    timings["cluster"] = time.perf_counter() - started
    clusters = pa.table(
        {
            "source": features["source"],
            "record_id": features["record_id"],
            "cluster": pa.array(cluster),
        }
    )
    counts = {
        "records": n,
        "clusters": len(np.unique(cluster)),
        "deterministic_links": n_det,
        "scored_pairs": n_scored,
        "review_pairs": review.num_rows,
        "held_for_review": int(n_held),
        "cannot_link_pairs": cannot.num_rows,
        "links_refused_by_non_match": clustering.skipped_edges,
    }
    return LinkResult(
        clusters=clusters,
        review=review.cast(REVIEW_SCHEMA),
        model=trained,
        thresholds=thresholds,
        counts=counts,
        problems=problem_counts(features),
        timings=timings,
    )


def link_identities(
    records: pa.Table,
    *,
    model: dict[str, Any] | None = None,
    thresholds: Thresholds | None = None,
    decisions: pa.Table | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> LinkResult:
    """Deduplicate identity records (``normalise.INPUT_COLUMNS``) into clusters of persons.

    Without ``model`` the model is trained on the records themselves (EM, no labels).
    """
    say = progress or (lambda text: None)
    say("normalising identities")
    started = time.perf_counter()
    features = normalise_identities(records)
    elapsed = time.perf_counter() - started
    result = link_features(
        features,
        model=model,
        thresholds=thresholds,
        decisions=decisions,
        progress=progress,
        threads=threads,
    )
    result.timings["normalise"] = elapsed
    return result
