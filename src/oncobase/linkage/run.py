"""A linkage run against the vault: store identities sealed, link, keep the person index.

``link_into_vault`` is what the pipeline step and ``oncobase link`` call.

* Only records that are new or changed are normalised and sealed: each record's keyed
  fingerprint (HMAC-like SHA-256 under ``keys/record-fingerprint.key``, no identifier in
  clear) is kept in ``linkage__records``, so passing the whole staging area again costs a
  hash per row, not a relink.
* A **full** run (no model yet, or ``incremental=False``) trains the model on every stored
  record and rebuilds the index (ids kept by :func:`assign_person_ids`).
* An **incremental** run (a model exists) finds, with DuckDB semi-joins on the keyed
  blocking tokens (:mod:`oncobase.linkage.tokens`), rule by rule, the stored records that
  share a blocking key of the stored model with a new record (the candidates), takes every
  record of the candidates' persons, decrypts only the features batches that hold them
  (a vault without tokens: every batch, exact semi-joins on the clear features, then its
  tokens are built), scores only new×stored and new×new pairs with the stored model (no
  training)
  and writes only the index rows that are new or whose person id changed. Clerical
  decisions that contradict the index (a non-match inside one person, a match across two)
  pull their persons in: a person holding a non-match pair is relinked and split.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.config import Settings
from oncobase.keys import ensure_key
from oncobase.linkage.index import assign_person_ids, ensure_pseudonym_key
from oncobase.linkage.link import DECISIONS_SCHEMA, LinkResult, Progress, link_features
from oncobase.linkage.model import (
    Thresholds,
    build_settings,
    settings_from_json,
    settings_to_json,
)
from oncobase.linkage.normalise import INPUT_COLUMNS, normalise_identities, problem_counts
from oncobase.linkage.tokens import (
    BLOCKING_TABLE,
    SLOT_TABLE,
    Slot,
    candidate_sql,
    compute_tokens,
    ensure_blocking_key,
    rule_slots,
    slots_match,
    token_ddl,
)
from oncobase.linkage.tokens import key_id as token_key_id
from oncobase.linkage.vault import BATCH_ROWS, RunRecord, Vault, ensure_vault_key
from oncobase.logging import get_logger

log = get_logger(__name__)

_FINGERPRINT_COLUMNS: tuple[str, ...] = (*INPUT_COLUMNS, "source_kind", "death_date")
_KEY = ("source", "record_id")
_POSITION = ("_batch_id", "_batch_row")  # where a stored features row is (Vault.get)


@dataclass(frozen=True, kw_only=True)
class RunSummary:
    """What a linkage run did (counts and timings only)."""

    run_id: str
    kind: str  # full, incremental, unchanged
    counts: dict[str, int] = field(default_factory=dict)
    problems: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)


def _content_id(table: pa.Table) -> str:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()[:24]


def _query(sql: str, params: dict[str, Any] | None = None, **tables: pa.Table) -> pa.Table:
    """``sql`` on the Arrow ``tables`` (registered under their keyword names), in a throwaway
    in-memory DuckDB."""
    con = duckdb.connect()
    try:
        for name, table in tables.items():
            con.register(name, table)
        result: pa.Table = con.sql(sql, params=params).to_arrow_table()
        return result
    finally:
        con.close()


def _with_pos(table: pa.Table) -> pa.Table:
    return table.append_column("_pos", pa.array(np.arange(table.num_rows, dtype=np.int64)))


def _latest_per_record(table: pa.Table) -> pa.Table:
    """Keep the last row of each (source, record_id)."""
    return _query(
        "SELECT * EXCLUDE (_pos) FROM t QUALIFY row_number() OVER "
        "(PARTITION BY source, record_id ORDER BY _pos DESC) = 1 ORDER BY _pos",
        t=_with_pos(table),
    )


def _fingerprints(records: pa.Table, secret: str) -> pa.Array:
    """A keyed SHA-256 of each record's identity fields (hex), computed by DuckDB."""
    parts = ", ".join(
        f"coalesce(CAST(t.{c} AS VARCHAR), chr(0))" if c in records.column_names else "chr(0)"
        for c in _FINGERPRINT_COLUMNS
    )
    out = _query(
        f"SELECT sha256($secret || chr(30) || concat_ws(chr(31), {parts})) AS f FROM t",
        {"secret": secret},
        t=records,
    )
    return out["f"].combine_chunks()


def _fingerprint_secret(settings: Settings) -> str:
    return ensure_key(settings, "record-fingerprint.key").hex()


def ensure_linkage_keys(settings: Settings) -> None:
    """Create every key of the linkage step (vault, pseudonyms, blocking tokens, record
    fingerprints) now, so that ``oncobase init`` lists them all for the backup."""
    ensure_vault_key(settings)
    ensure_pseudonym_key(settings)
    ensure_blocking_key(settings)
    _fingerprint_secret(settings)


def _fresh_records(
    vault: Vault, records: pa.Table, fingerprints: pa.Array
) -> tuple[pa.Array, pa.Array]:
    """(fresh, known): true for the records the vault does not hold with this exact
    content, and for those whose (source, record_id) it holds (with any content)."""
    keyed = pa.table(
        {
            "source": records["source"],
            "record_id": records["record_id"],
            "fingerprint": fingerprints,
            "_pos": pa.array(np.arange(records.num_rows, dtype=np.int64)),
        }
    )
    vault.con.register("_fp", keyed)
    try:
        found = vault.con.sql(
            "SELECT f._pos, r.fingerprint = f.fingerprint AS same FROM _fp f "
            "JOIN linkage__records r ON r.source = f.source AND r.record_id = f.record_id"
        ).to_arrow_table()
    finally:
        vault.con.unregister("_fp")
    pos = np.asarray(found["_pos"].to_numpy(), dtype=np.int64)
    same = np.asarray(found["same"].to_numpy(zero_copy_only=False), dtype=bool)
    fresh = np.ones(records.num_rows, dtype=bool)
    fresh[pos[same]] = False
    known = np.zeros(records.num_rows, dtype=bool)
    known[pos] = True
    return pa.array(fresh), pa.array(known)


def _rule_text(rule: Any) -> str:
    return str(rule["blocking_rule"] if isinstance(rule, dict) else rule)


def _oriented(rule: str, left: str, right: str) -> str:
    return re.sub(r"\br\.", f"{right}.", re.sub(r"\bl\.", f"{left}.", rule))


def _symmetric(rule: str) -> bool:
    """Whether swapping ``l`` and ``r`` leaves a conjunction of equalities unchanged."""

    def norm(text: str) -> str:
        return " ".join(text.split())

    conjuncts = [norm(c) for c in re.split(r"\s+AND\s+", rule.strip("() "), flags=re.I)]
    if not all(c.count(" = ") == 1 for c in conjuncts):
        return False
    mirrored = set()
    for c in conjuncts:
        left, right = _oriented(c, "_swap_", "l").replace("_swap_.", "r.").split(" = ")
        mirrored.add(f"{right} = {left}")
    return mirrored == set(conjuncts)


def _candidate_positions(
    con: duckdb.DuckDBPyConnection, rules: list[str], *, existing: str, new: str
) -> pa.Table:
    """``_pos`` of the rows of ``existing`` that a blocking rule pairs with a row of ``new``
    (both orientations, since a rule may be asymmetric): one hash semi-join per rule."""
    selects = []
    for rule in rules:
        orientations = (("e", "n"),) if _symmetric(rule) else (("e", "n"), ("n", "e"))
        for a, b in orientations:
            selects.append(
                f"SELECT e._pos FROM {existing} e SEMI JOIN {new} n ON {_oriented(rule, a, b)}"
            )
    return con.sql(" UNION ".join(selects)).to_arrow_table()


def _decisions(vault: Vault) -> pa.Table:
    return vault.query(
        "SELECT source_l, record_id_l, source_r, record_id_r, decision FROM linkage__decisions"
    ).cast(DECISIONS_SCHEMA)


def _involved_index_rows(vault: Vault, cand_keys: pa.Table, new_keys: pa.Table) -> pa.Table:
    """Index rows (source, local_id, person_id, split) of every person that holds a
    candidate or a new record's earlier version, or that a clerical decision contradicts
    (``split``: the person holds a non-match pair and is relinked from its records)."""
    vault.con.register("_cand", cand_keys.select(list(_KEY)))
    vault.con.register("_new", new_keys)
    try:
        persons = vault.con.sql(
            """
            WITH dec AS (
              SELECT d.decision, a.person_id AS pa, b.person_id AS pb
              FROM linkage__decisions d
              JOIN linkage__person_index a ON a.source = d.source_l
                   AND a.local_id = d.record_id_l
              JOIN linkage__person_index b ON b.source = d.source_r
                   AND b.local_id = d.record_id_r
            ), involved AS (
              SELECT i.person_id, false AS split FROM linkage__person_index i
              SEMI JOIN _cand c ON c.source = i.source AND c.record_id = i.local_id
              UNION ALL
              SELECT i.person_id, false FROM linkage__person_index i
              SEMI JOIN _new c ON c.source = i.source AND c.record_id = i.local_id
              UNION ALL SELECT pa, true FROM dec WHERE decision = 'non-match' AND pa = pb
              UNION ALL SELECT pa, false FROM dec WHERE decision = 'match' AND pa <> pb
              UNION ALL SELECT pb, false FROM dec WHERE decision = 'match' AND pa <> pb
            )
            SELECT person_id, bool_or(split) AS split FROM involved GROUP BY person_id
            """
        ).to_arrow_table()
        vault.con.register("_persons", persons)
        previous: pa.Table = vault.con.sql(
            "SELECT i.source, i.local_id, i.person_id, p.split FROM linkage__person_index i "
            "JOIN _persons p USING (person_id)"
        ).to_arrow_table()
    finally:
        for name in ("_cand", "_new", "_persons"):
            vault.con.unregister(name)
    return previous


@dataclass(frozen=True, kw_only=True)
class _Increment:
    union: pa.Table  # features: involved stored records, then the new records
    prior: pa.Array  # int64: person id of stored records kept together; null = relink
    previous: pa.Table  # index rows (source, local_id, person_id) of the union's records
    counts: dict[str, int]


def _increment_inputs(
    vault: Vault,
    existing: pa.Table,
    new: pa.Table,
    *,
    rules: list[str],
    dedupe: bool,
    involved: tuple[int, pa.Table] | None = None,
) -> _Increment:
    """The records an increment relinks: the new ones and every record of the persons that
    a new record may join, that a new record updates, or that a clerical decision
    contradicts. ``involved``: (number of candidates, index rows of the involved persons)
    when the blocking tokens found them already (``existing`` then holds only the latest
    version of those persons' records)."""
    con = duckdb.connect()
    try:
        con.register("e_all", _with_pos(existing))
        con.register("n", new)
        if dedupe:  # updated records were sealed again: keep the last version of each
            con.execute(
                "CREATE TEMP TABLE e AS SELECT * FROM e_all QUALIFY row_number() OVER "
                "(PARTITION BY source, record_id ORDER BY _pos DESC) = 1"
            )
            stored = "e"
        else:
            stored = "e_all"
        if involved is None:
            candidates = _candidate_positions(con, rules, existing=stored, new="n")
            con.register("cand", candidates)
            cand_keys = con.sql(
                f"SELECT e.source, e.record_id FROM {stored} e SEMI JOIN cand USING (_pos)"
            ).to_arrow_table()
            n_candidates = candidates.num_rows
            previous = _involved_index_rows(vault, cand_keys, new.select(list(_KEY)))
        else:
            n_candidates, previous = involved
        con.register("prev", previous)
        # Positions only (the key columns are scanned, not every feature), then one take.
        chosen = con.sql(
            f"""
            SELECT e._pos, CASE WHEN p.split THEN NULL ELSE p.person_id END AS prior
            FROM {stored} e JOIN prev p ON p.source = e.source AND p.local_id = e.record_id
            WHERE NOT EXISTS (SELECT 1 FROM n WHERE n.source = e.source
                              AND n.record_id = e.record_id)
            ORDER BY p.split, e._pos  -- the records to relink last (see predict_pairs)
            """
        ).to_arrow_table()
    finally:
        con.close()
    stored_part = existing.take(chosen["_pos"])
    prior = pa.concat_arrays(
        [
            chosen["prior"].combine_chunks().cast(pa.int64()),
            pa.nulls(new.num_rows, pa.int64()),
        ]
    )
    union = pa.concat_tables([stored_part, new], promote_options="default")
    counts = {
        "candidates": n_candidates,
        "involved_persons": int(pc.count_distinct(previous["person_id"]).as_py()),
        "split_persons": int(
            pc.count_distinct(previous.filter(previous["split"])["person_id"]).as_py()
        ),
        "relinked_records": union.num_rows,
    }
    return _Increment(
        union=union,
        prior=prior,
        previous=previous.select(["source", "local_id", "person_id"]),
        counts=counts,
    )


def link_into_vault(
    records: pa.Table,
    *,
    settings: Settings,
    incremental: bool | None = None,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
    threads: int | None = None,
) -> RunSummary:
    """Seal ``records`` into the vault, link them, update the person index.

    ``records``: ``normalise.INPUT_COLUMNS`` (``record_id`` is the source's local id), plus
    optional ``source_kind`` and ``death_date``; a record already in the vault with the same
    content is skipped, one with a new content replaces it. ``incremental``: None =
    incremental when a trained model exists. ``threads``: DuckDB threads for the scoring.
    """
    say = progress or (lambda text: None)
    started = time.perf_counter()
    started_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    run_id = uuid.uuid4().hex[:16]
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        now = time.perf_counter()
        timings[name] = timings.get(name, 0.0) + now - clock[0]
        clock[0] = now

    with Vault(settings) as vault, contextlib.ExitStack() as background:
        load_id = _content_id(records)
        last = vault.last_run()
        if vault.has_load(load_id) and last is not None and not _decisions_contradict_index(vault):
            return RunSummary(
                run_id=last.run_id, kind="unchanged", counts={"records": records.num_rows}
            )
        say("normalising identities")
        records = _rechunked(_latest_per_record(records))
        fingerprints = _fingerprints(records, _fingerprint_secret(settings))
        fresh, known = _fresh_records(vault, records, fingerprints)
        updated = known.filter(fresh)
        incoming = records.filter(fresh)
        incoming_fp = fingerprints.filter(fresh)
        new = normalise_identities(incoming)
        lap("normalise")
        n_batches, stored_rows = vault.con.execute(
            "SELECT count(*), coalesce(sum(n_rows), 0) FROM vault__batches WHERE kind = 'features'"
        ).fetchall()[0]
        registered = vault.con.execute("SELECT count(*) FROM linkage__records").fetchall()[0][0]
        want_increment = last is not None and n_batches > 0 and incremental is not False
        decisions = _decisions(vault)
        if want_increment and new.num_rows == 0 and not _decisions_contradict_index(vault):
            return RunSummary(
                run_id=last.run_id if last else run_id,
                kind="unchanged",
                counts={"records": records.num_rows, "new_records": 0},
            )
        model = settings_from_json(last.model_json) if want_increment and last else None
        rules = [
            _rule_text(r)
            for r in (model or build_settings())["blocking_rules_to_generate_predictions"]
        ]
        slots = rule_slots(rules)
        token_key = ensure_blocking_key(settings)
        new = _with_batch_position(new, load_id)
        new_tokens = _tokens(vault, new, slots, token_key) if slots is not None else None
        lap("tokens")
        token_counts: dict[str, int] = {}
        tokened: pa.Table | None = None  # stored features chosen through the tokens
        involved: pa.Table | None = None  # index rows of their persons
        if (
            want_increment
            and slots is not None
            and new_tokens is not None
            and _tokens_ready(vault, slots, token_key, registered)
        ):
            tokened, involved, token_counts = _features_through_tokens(
                vault, new, new_tokens, slots
            )
            existing = tokened
        else:
            existing = vault.get("features", with_batch=True) if n_batches else None
        token_counts["decrypted_batches"] = vault.decrypted_batches
        token_counts["feature_batches"] = int(n_batches)
        lap("decrypt")
        use_increment = want_increment and existing is not None
        say("sealing identities into the vault")
        new = new.drop_columns(list(_POSITION))
        # The new records are sealed on a second connection while the pairs are scored
        # (Splink has its own database): the index is written only once they are stored.
        writer = background.enter_context(contextlib.closing(vault.con.cursor()))
        pool = background.enter_context(ThreadPoolExecutor(max_workers=1))
        sealing = pool.submit(
            _seal_new_records,
            vault,
            writer,
            incoming=incoming,
            features=new,
            tokens=new_tokens if use_increment and tokened is not None else None,
            updated=updated,
            load_id=load_id,
        )
        lap("seal")
        result: LinkResult
        if use_increment and last is not None and existing is not None and model is not None:
            thresholds = thresholds or Thresholds(**json.loads(last.thresholds_json))
            step = _increment_inputs(
                vault,
                existing.drop_columns(list(_POSITION)),
                new,
                rules=rules,
                dedupe=tokened is None and stored_rows != registered,
                involved=None if involved is None else (token_counts["token_candidates"], involved),
            )
            untokened = existing if tokened is None else None  # an older vault's features
            del existing, tokened
            lap("candidates")
            result = link_features(
                step.union,
                model=model,
                thresholds=thresholds,
                decisions=decisions,
                prior_clusters=step.prior,
                progress=progress,
                threads=threads,
            )
            lap("link")
            kind = "incremental"
            counts_extra = {**step.counts, "new_records": new.num_rows}
            sealing.result()  # raises what sealing raised
            lap("seal")
            say("updating the person index")
            next_id = int(
                vault.con.execute(
                    "SELECT coalesce(max(person_id), 0) + 1 FROM linkage__person_index"
                ).fetchall()[0][0]
            )
            index = assign_person_ids(
                result.clusters, step.previous, next_id=next_id, ordered=False
            )
            changed = _changed_rows(index, step.previous)
            counts_extra["index_rows_written"] = changed.num_rows
            vault.upsert_table(
                "linkage__person_index",
                _with_run(changed, run_id),
                "source, local_id, person_id, run_id",
                key="source, local_id",
                replaces=_known_keys(changed, step.previous),
            )
            vault.upsert_table(
                "linkage__review", _with_run(result.review, run_id), _REVIEW, key="pair_id"
            )
            lap("index")
            if slots is not None and untokened is not None:  # an older vault: build them
                _rebuild_tokens(vault, untokened, new_tokens, slots, token_key)
            del untokened
            lap("tokens")
        else:
            with_batches = _latest_per_record(
                pa.concat_tables(
                    [
                        *([] if existing is None else [existing]),
                        _with_batch_position(new, load_id),
                    ],
                    promote_options="default",
                )
            )
            existing_stored = existing
            del existing
            everything = with_batches.drop_columns(list(_POSITION))
            del with_batches
            result = link_features(
                everything,
                thresholds=thresholds,
                decisions=decisions,
                progress=progress,
                threads=threads,
            )
            lap("link")
            kind = "full"
            counts_extra = {"new_records": new.num_rows}
            sealing.result()
            lap("seal")
            say("updating the person index")
            previous = vault.person_index()
            index = assign_person_ids(result.clusters, previous if previous.num_rows else None)
            vault.replace_table(
                "linkage__person_index",
                _with_run(index, run_id),
                "source, local_id, person_id, run_id",
            )
            vault.replace_table("linkage__review", _with_run(result.review, run_id), _REVIEW)
            lap("index")
            trained_rules = [
                _rule_text(r) for r in result.model["blocking_rules_to_generate_predictions"]
            ]
            kept_slots = rule_slots(trained_rules)
            if kept_slots is not None:  # the new records' tokens are computed already
                _rebuild_tokens(
                    vault,
                    existing_stored,
                    new_tokens if kept_slots == slots else None,
                    kept_slots,
                    token_key,
                    also=None if kept_slots == slots else _with_batch_position(new, load_id),
                )
            else:
                vault.con.execute(f"DELETE FROM {SLOT_TABLE}")
            del existing_stored
            lap("tokens")
        _register_records(vault, incoming, incoming_fp, updated, load_id)
        indexed, persons = vault.con.execute(
            "SELECT count(*), count(DISTINCT person_id) FROM linkage__person_index"
        ).fetchall()[0]
        # records and persons of the whole index; what this run linked is in the rest
        counts = {
            **result.counts,
            **counts_extra,
            **token_counts,
            "linked_records": result.counts["records"],
            "records": int(indexed),
            "persons": int(persons),
        }
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
        lap("index")
    log.info("linkage run %s (%s): %s", run_id, kind, counts)
    return RunSummary(
        run_id=run_id,
        kind=kind,
        counts=counts,
        problems=problem_counts(new),
        seconds=seconds,
        timings=timings,
    )


def _seal_new_records(
    vault: Vault,
    con: duckdb.DuckDBPyConnection,
    *,
    incoming: pa.Table,
    features: pa.Table,
    tokens: pa.Table | None,
    updated: pa.Array,
    load_id: str,
) -> None:
    """Seal the new records' identities and features, append their blocking ``tokens``
    (an increment through the tokens), and checkpoint, on ``con``: a cursor of the vault,
    while the main thread links. Their fingerprints are recorded only once the index holds
    them (:func:`_register_records`), so that a run stopped before can be run again."""
    vault.put(incoming, kind="identity", load_id=load_id, con=con)
    vault.put(features, kind="features", load_id=load_id, con=con)
    if tokens is not None:
        vault.upsert_table(
            BLOCKING_TABLE,
            tokens,
            ", ".join(tokens.column_names),
            key="source, record_id",
            replaces=incoming.select(list(_KEY)).filter(updated),
            con=con,
        )
    con.execute("CHECKPOINT")  # here, beside the linking, rather than at a later commit


def _register_records(
    vault: Vault, incoming: pa.Table, fingerprints: pa.Array, updated: pa.Array, load_id: str
) -> None:
    """Record the fingerprints of the records a run has sealed and indexed."""
    vault.upsert_table(
        "linkage__records",
        pa.table(
            {
                "source": incoming["source"],
                "record_id": incoming["record_id"],
                "fingerprint": fingerprints,
                "load_id": pa.repeat(pa.scalar(load_id, pa.string()), incoming.num_rows),
            }
        ),
        "source, record_id, fingerprint, load_id",
        key="source, record_id",
        replaces=incoming.select(list(_KEY)).filter(updated),
    )


def _with_batch_position(table: pa.Table, load_id: str) -> pa.Table:
    """``table`` with the features batch id and row number (``_batch_id``, ``_batch_row``)
    that ``Vault.put`` gives each row when it seals the table as one load."""
    n = table.num_rows
    names = np.array(
        [Vault.batch_id("features", load_id, k) for k in range(max(1, -(-n // BATCH_ROWS)))],
        dtype=object,
    )
    rows = np.arange(n, dtype=np.int64)
    return table.append_column(
        "_batch_id", pa.array(names[rows // BATCH_ROWS], pa.string())
    ).append_column("_batch_row", pa.array(rows % BATCH_ROWS))


def _rechunked(table: pa.Table, rows: int = 4096) -> pa.Table:
    """The same rows in chunks of ``rows`` (zero-copy): DuckDB scans an Arrow table one
    thread per record batch, so a single large chunk would run on one core."""
    return pa.Table.from_batches(table.to_batches(max_chunksize=rows), schema=table.schema)


def _tokens(vault: Vault, features: pa.Table, slots: list[Slot], key: bytes) -> pa.Table:
    """Blocking tokens of ``features`` (with their ``_batch_id`` and ``_batch_row``),
    computed in DuckDB."""
    vault.con.register("_tok_in", _rechunked(features))
    try:
        extra = "t._batch_id AS batch_id, t._batch_row AS batch_row"
        return compute_tokens(vault.con, "_tok_in", slots, key=key, extra=extra)
    finally:
        vault.con.unregister("_tok_in")


def _tokens_ready(vault: Vault, slots: list[Slot], key: bytes, registered: int) -> bool:
    """Whether the vault holds tokens of ``slots`` under ``key`` for every stored record."""
    exists = vault.con.execute(  # (tokens written before they kept the batch row: rebuilt)
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = ? AND column_name = 'batch_row'",
        [BLOCKING_TABLE],
    ).fetchall()[0][0]
    if not exists or not slots_match(vault.con, slots, key):
        return False
    held = vault.con.execute(f"SELECT count(*) FROM {BLOCKING_TABLE}").fetchall()[0][0]
    return bool(held == registered)


def _rebuild_tokens(
    vault: Vault,
    stored: pa.Table | None,
    new_tokens: pa.Table | None,
    slots: list[Slot],
    key: bytes,
    *,
    also: pa.Table | None = None,
) -> None:
    """Replace the token table with the tokens of the latest version of every record of
    ``stored`` and ``also`` (features with ``_batch_id``), and ``new_tokens`` (computed
    already; they replace a stored version's)."""
    parts = [
        _tokens(vault, _latest_per_record(t), slots, key)
        for t in (stored, also)
        if t is not None and t.num_rows
    ]
    if new_tokens is not None:
        parts.append(new_tokens)
    schema = parts[0].schema if parts else None
    tokens = pa.concat_tables([p.cast(schema) for p in parts]) if schema else None
    if tokens is not None and len(parts) > 1:  # the last version of each record wins
        tokens = _latest_per_record(tokens)
    if tokens is None:
        return
    vault.con.execute("BEGIN TRANSACTION")
    try:
        vault.con.execute(token_ddl(slots))
        vault.con.register("_tok", tokens)
        vault.con.execute(f"INSERT INTO {BLOCKING_TABLE} SELECT * FROM _tok")
        vault.con.unregister("_tok")
        vault.con.execute(f"DELETE FROM {SLOT_TABLE}")
        vault.con.executemany(
            f"INSERT INTO {SLOT_TABLE} VALUES (?, ?, ?, ?, ?)",
            [[i, s.rule, s.side, s.column, token_key_id(key)] for i, s in enumerate(slots)],
        )
        vault.con.execute("COMMIT")
    except duckdb.Error:
        vault.con.execute("ROLLBACK")
        raise


def _features_through_tokens(
    vault: Vault, new: pa.Table, new_tokens: pa.Table, slots: list[Slot]
) -> tuple[pa.Table, pa.Table, dict[str, int]]:
    """The stored features an increment needs, found through the blocking tokens: the
    candidates (a token equal to a new record's, rule by rule), every record of their
    persons and of the persons a new record updates or a decision contradicts. Only the
    features batches holding one of them are decrypted; the rows are their latest
    versions (``_batch_id`` and ``_batch_row`` kept)."""
    vault.con.register("_ntok", new_tokens)
    try:
        cand = vault.con.sql(candidate_sql(slots, "_ntok")).to_arrow_table()
    finally:
        vault.con.unregister("_ntok")
    previous = _involved_index_rows(vault, cand, new.select(list(_KEY)))
    vault.con.register("_prev", previous)
    try:
        needed = vault.con.sql(
            f"SELECT t.source, t.record_id, t.batch_id, t.batch_row FROM {BLOCKING_TABLE} t "
            "SEMI JOIN _prev p ON p.source = t.source AND p.local_id = t.record_id"
        ).to_arrow_table()
    finally:
        vault.con.unregister("_prev")
    counts = {"token_candidates": cand.num_rows}
    opened = vault.get("features", with_batch=True, keep=needed) if needed.num_rows else None
    if opened is None:
        return new.schema.empty_table(), previous, counts
    return opened, previous, counts


_REVIEW = "pair_id, source_l, record_id_l, source_r, record_id_r, match_probability, run_id"


def _with_run(table: pa.Table, run_id: str) -> pa.Table:
    return table.append_column("run_id", pa.repeat(pa.scalar(run_id, pa.string()), table.num_rows))


def _known_keys(rows: pa.Table, previous: pa.Table) -> pa.Table:
    """The (source, local_id) of ``rows`` that ``previous`` holds (rows to replace)."""
    return _query(
        "SELECT i.source, i.local_id FROM i SEMI JOIN p ON p.source = i.source "
        "AND p.local_id = i.local_id",
        i=rows,
        p=previous,
    )


def _changed_rows(index: pa.Table, previous: pa.Table) -> pa.Table:
    """The rows of ``index`` that are new or whose person id changed."""
    return _query(
        "SELECT i.* FROM i ANTI JOIN p ON p.source = i.source AND p.local_id = i.local_id "
        "AND p.person_id = i.person_id",
        i=index,
        p=previous,
    )


def _decisions_contradict_index(vault: Vault) -> bool:
    """A decision the index does not follow yet (non-match in one person, match across)."""
    rows = vault.con.execute(
        """
        SELECT count(*) FROM linkage__decisions d
        JOIN linkage__person_index a ON a.source = d.source_l AND a.local_id = d.record_id_l
        JOIN linkage__person_index b ON b.source = d.source_r AND b.local_id = d.record_id_r
        WHERE (d.decision = 'non-match' AND a.person_id = b.person_id)
           OR (d.decision = 'match' AND a.person_id <> b.person_id)
        """
    ).fetchall()
    return bool(rows[0][0])


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
