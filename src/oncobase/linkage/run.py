"""A linkage run against the vault: store identities sealed, link, keep the person index.

``link_into_vault`` is what the pipeline step and ``oncobase link`` call. A full run trains
the model on all stored records; an incremental run (a model exists) scores only the new
records against the stored records that share a blocking key with them, with the stored
model, and keeps every indexed person's id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.config import Settings
from oncobase.linkage.index import assign_person_ids
from oncobase.linkage.link import DECISIONS_SCHEMA, Progress, link_features
from oncobase.linkage.model import Thresholds, settings_from_json, settings_to_json
from oncobase.linkage.normalise import normalise_identities, problem_counts
from oncobase.linkage.vault import RunRecord, Vault
from oncobase.logging import get_logger

log = get_logger(__name__)

# Keys a new record must share with a stored record for the pair to be scored (a superset
# of the model's blocking rules).
_CANDIDATE_KEYS: tuple[tuple[str, ...], ...] = (
    ("nir_id",),
    ("bd_str",),
    ("bd_swapkey",),
    ("ln_birth", "fn1"),
    ("ln_used", "fn1"),
    ("ln_birth_ph", "fn1_ph"),
    ("ln_used_ph", "fn1_ph"),
)


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """What a linkage run did (counts only)."""

    run_id: str
    kind: str  # full, incremental, unchanged
    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0


def _content_id(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:24]


def _latest_per_record(table: pa.Table) -> pa.Table:
    """Keep the last row of each (source, record_id)."""
    con = duckdb.connect()
    try:
        data = table.append_column("_pos", pa.array(np.arange(table.num_rows, dtype=np.int64)))
        con.register("t", data)
        out = con.sql(
            "SELECT * EXCLUDE (_pos) FROM t QUALIFY row_number() OVER "
            "(PARTITION BY source, record_id ORDER BY _pos DESC) = 1 ORDER BY _pos"
        ).to_arrow_table()
    finally:
        con.close()
    return out


def _candidates(existing: pa.Table, new: pa.Table) -> pa.Table:
    con = duckdb.connect()
    try:
        con.register("e", existing)
        con.register("n", new)
        conditions = " OR ".join(
            "("
            + " AND ".join(f"e.{k} IS NOT NULL" for k in keys)
            + " AND ("
            + ", ".join(f"e.{k}" for k in keys)
            + ") IN (SELECT ("
            + ", ".join(f"n.{k}" for k in keys)
            + ") FROM n))"
            for keys in _CANDIDATE_KEYS
        )
        return con.sql(
            f"SELECT * FROM e WHERE ({conditions}) AND NOT EXISTS (SELECT 1 FROM n "
            "WHERE n.source = e.source AND n.record_id = e.record_id)"
        ).to_arrow_table()
    finally:
        con.close()


def _decisions(vault: Vault) -> pa.Table:
    return vault.query(
        "SELECT source_l, record_id_l, source_r, record_id_r, decision FROM linkage__decisions"
    ).cast(DECISIONS_SCHEMA)


def link_into_vault(
    records: pa.Table,
    *,
    settings: Settings,
    incremental: bool | None = None,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
) -> RunSummary:
    """Seal ``records`` into the vault, link them, update the person index.

    ``records``: ``normalise.INPUT_COLUMNS`` (``record_id`` is the source's local id), plus
    optional ``source_kind`` and ``death_date``. ``incremental``: None = incremental when a
    trained model exists.
    """
    say = progress or (lambda text: None)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = uuid.uuid4().hex[:16]
    with Vault(settings) as vault:
        load_id = _content_id(records)
        last = vault.last_run()
        if vault.has_load(load_id) and last is not None:
            return RunSummary(
                run_id=last.run_id, kind="unchanged", counts={"records": records.num_rows}
            )
        say("normalising identities")
        new = normalise_identities(records)
        existing = vault.get("features")
        previous = vault.person_index()
        use_increment = (
            (last is not None and existing is not None)
            if incremental is None
            else (incremental and last is not None and existing is not None)
        )
        say("sealing identities into the vault")
        vault.put(records, kind="identity", load_id=load_id)
        vault.put(new, kind="features", load_id=load_id)
        decisions = _decisions(vault)
        if use_increment and last is not None and existing is not None:
            thresholds = thresholds or Thresholds(**json.loads(last.thresholds_json))
            candidates = _candidates(existing, new)
            union = pa.concat_tables([candidates, new], promote_options="default")
            con = duckdb.connect()
            try:
                keys = union.select(["source", "record_id"])
                keys = keys.append_column(
                    "_pos", pa.array(np.arange(keys.num_rows, dtype=np.int64))
                )
                con.register("u", keys)
                con.register("p", previous)
                prior = con.sql(
                    "SELECT p.person_id FROM u LEFT JOIN p ON p.source = u.source "
                    "AND p.local_id = u.record_id ORDER BY u._pos"
                ).to_arrow_table()["person_id"]
            finally:
                con.close()
            prior = pa.concat_arrays(
                [
                    prior.combine_chunks().slice(0, candidates.num_rows),
                    pa.nulls(new.num_rows, pa.int64()),
                ]
            )
            result = link_features(
                union,
                model=settings_from_json(last.model_json),
                thresholds=thresholds,
                decisions=decisions,
                prior_clusters=prior,
                progress=progress,
            )
            kind = "incremental"
            counts_extra = {"candidates": candidates.num_rows, "new_records": new.num_rows}
        else:
            everything = _latest_per_record(
                new
                if existing is None
                else pa.concat_tables([existing, new], promote_options="default")
            )
            result = link_features(
                everything, thresholds=thresholds, decisions=decisions, progress=progress
            )
            kind = "full"
            counts_extra = {"new_records": new.num_rows}
        say("updating the person index")
        index = assign_person_ids(result.clusters, previous if previous.num_rows else None)
        vault.replace_table(
            "linkage__person_index",
            index.append_column("run_id", pa.array([run_id] * index.num_rows, pa.string())),
            "source, local_id, person_id, run_id",
        )
        review = result.review.append_column(
            "run_id", pa.array([run_id] * result.review.num_rows, pa.string())
        )
        if kind == "incremental":
            old = vault.query("SELECT * FROM linkage__review")
            review = pa.concat_tables([old.cast(review.schema), review])
            review = _latest_per_pair(review)
        vault.replace_table(
            "linkage__review",
            review,
            "pair_id, source_l, record_id_l, source_r, record_id_r, match_probability, run_id",
        )
        counts = {**result.counts, **counts_extra, "persons": _count_persons(index)}
        seconds = time.perf_counter() - started
        vault.save_run(
            RunRecord(
                run_id=run_id,
                kind=kind,
                started_at=started_at,
                seconds=seconds,
                model_json=settings_to_json(result.model),
                thresholds_json=json.dumps(result.thresholds.to_dict()),
                counts_json=json.dumps(counts),
            )
        )
    log.info("linkage run %s (%s): %s", run_id, kind, counts)
    return RunSummary(
        run_id=run_id, kind=kind, counts=counts, problems=problem_counts(new), seconds=seconds
    )


def _latest_per_pair(review: pa.Table) -> pa.Table:
    con = duckdb.connect()
    try:
        data = review.append_column("_pos", pa.array(np.arange(review.num_rows, dtype=np.int64)))
        con.register("r", data)
        return con.sql(
            "SELECT * EXCLUDE (_pos) FROM r QUALIFY row_number() OVER (PARTITION BY pair_id "
            "ORDER BY _pos DESC) = 1"
        ).to_arrow_table()
    finally:
        con.close()


def _count_persons(index: pa.Table) -> int:
    import pyarrow.compute as pc

    return int(pc.count_distinct(index["person_id"]).as_py()) if index.num_rows else 0


def person_index_table(settings: Settings) -> pa.Table:
    """``linkage__person_index`` (source, local_id, person_id): no direct identifier; the
    ingestion step loads it into the clinical store."""
    with Vault(settings) as vault:
        index = vault.person_index()
    # The vault keys records by "<source>:<local id>"; ingestion keys them by the local id.
    local = pc.replace_substring_regex(index["local_id"], r"^[^:]+:", "", max_replacements=1)
    return index.set_column(index.column_names.index("local_id"), "local_id", local)


def stored_identities(settings: Settings) -> pa.Table | None:
    """The identity records of the vault, decrypted (linkage step only)."""
    with Vault(settings) as vault:
        return vault.get("identity")


def review_pairs(settings: Settings) -> pa.Table:
    """Pairs waiting for a clerical decision (ids and probability, no identifier)."""
    with Vault(settings) as vault:
        return vault.query(
            "SELECT pair_id, source_l, record_id_l, source_r, record_id_r, match_probability "
            "FROM linkage__review r WHERE NOT EXISTS (SELECT 1 FROM linkage__decisions d "
            "WHERE d.pair_id = r.pair_id) ORDER BY match_probability DESC, pair_id"
        )


def decide(settings: Settings, pair_id: str, decision: str) -> dict[str, Any]:
    """Store a clerical decision (``match`` or ``non-match``) for a review pair."""
    from oncobase.linkage.errors import LinkageError

    if decision not in ("match", "non-match"):
        raise LinkageError("A decision is 'match' or 'non-match'")
    with Vault(settings) as vault:
        rows = vault.query(
            "SELECT source_l, record_id_l, source_r, record_id_r FROM linkage__review "
            "WHERE pair_id = ?",
            [pair_id],
        ).to_pylist()
        if not rows:
            raise LinkageError(f"No review pair {pair_id!r}; list them with `oncobase link review`")
        row = rows[0]
        vault.con.execute(
            "INSERT OR REPLACE INTO linkage__decisions VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                pair_id,
                row["source_l"],
                row["record_id_l"],
                row["source_r"],
                row["record_id_r"],
                decision,
                dt.datetime.now(dt.UTC).replace(tzinfo=None),
            ],
        )
    return {"pair_id": pair_id, "decision": decision}
