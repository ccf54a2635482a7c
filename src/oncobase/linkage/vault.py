"""The identity vault: the only place where direct identifiers live.

A DuckDB file of its own, ``<home>/vault/identity.duckdb``. Identity records and their
linkage features are stored as Arrow IPC batches sealed with AES-256-GCM (``cryptography``);
the key is ``<home>/keys/vault.key`` (32 random bytes, mode 0600, created on first use,
never logged). Each batch records the id of the key that sealed it (the first 8 bytes of the
key's SHA-256, not the key) and is bound to its batch id as associated data.

Each batch is one LZ4-compressed Arrow IPC stream under one AES-GCM tag (no per-row
encryption), in a one-row table of its own (``vault__sealed_<hash of the batch id>``, see
:func:`blob_table`) listed in ``vault__batches``: a checkpoint then writes only the new
batches, and a run reads only the batches it needs, on two threads. Only the linkage step
opens the batches, in memory, for the time of a run. The linkage tables (runs with their
model, person index, review pairs, decisions, and the keyed fingerprints of the stored
records) hold no direct identifier and are stored in clear beside the batches; so do the
keyed, truncated blocking tokens of ``linkage.tokens`` (they reveal equality of blocking
keys to whoever holds this file, not the values).

Key rotation (:func:`rotate_vault_key`): a new key is written to ``vault.key.new``, every
batch is re-encrypted with it in one transaction, then the new key replaces ``vault.key``.
A crash at any point leaves a vault readable with one of the two files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oncobase.config import Settings
from oncobase.keys import ensure_key, key_path
from oncobase.linkage.errors import LinkageError

BATCH_ROWS = 200_000
PIECE_BYTES = 1 << 20  # a batch's ciphertext is stored in rows of 1 MiB: 4x faster to read

_DDL = """
CREATE TABLE IF NOT EXISTS vault__batches (
  batch_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, load_id VARCHAR NOT NULL,
  n_rows BIGINT NOT NULL, key_id VARCHAR NOT NULL, nonce BLOB NOT NULL,
  created_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS linkage__runs (
  run_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, started_at TIMESTAMP NOT NULL,
  seconds DOUBLE, model_json VARCHAR NOT NULL, thresholds_json VARCHAR NOT NULL,
  counts_json VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS linkage__person_index (
  source VARCHAR NOT NULL, local_id VARCHAR NOT NULL, person_id BIGINT NOT NULL,
  run_id VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS linkage__review (
  pair_id VARCHAR PRIMARY KEY, source_l VARCHAR, record_id_l VARCHAR, source_r VARCHAR,
  record_id_r VARCHAR, match_probability DOUBLE, run_id VARCHAR);
CREATE TABLE IF NOT EXISTS linkage__records (
  source VARCHAR NOT NULL, record_id VARCHAR NOT NULL, fingerprint VARCHAR NOT NULL,
  load_id VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS linkage__decisions (
  pair_id VARCHAR PRIMARY KEY, source_l VARCHAR, record_id_l VARCHAR, source_r VARCHAR,
  record_id_r VARCHAR, decision VARCHAR NOT NULL, decided_at TIMESTAMP NOT NULL);
CREATE TABLE IF NOT EXISTS linkage__token_slots (
  pos INTEGER NOT NULL, rule VARCHAR NOT NULL, side VARCHAR NOT NULL, col VARCHAR NOT NULL,
  key_id VARCHAR NOT NULL);
"""


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    return path


def vault_path(settings: Settings) -> Path:
    return settings.home_path / "vault" / "identity.duckdb"


def ensure_vault_key(settings: Settings) -> bytes:
    """The vault's AES-256-GCM key, created with mode 0600 on first use (never logged)."""
    return ensure_key(settings, "vault.key")


def key_id(key: bytes) -> str:
    return hashlib.sha256(key).hexdigest()[:16]


def seal(key: bytes, table: pa.Table, *, batch_id: str) -> tuple[bytes, bytes]:
    """(nonce, ciphertext) of an Arrow table, bound to its batch id."""
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression="lz4")  # 4x faster to open than zstd
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    nonce = secrets.token_bytes(12)
    return nonce, AESGCM(key).encrypt(nonce, sink.getvalue().to_pybytes(), batch_id.encode())


def unseal(key: bytes, nonce: bytes, ciphertext: bytes | memoryview, *, batch_id: str) -> pa.Table:
    try:
        clear = AESGCM(key).decrypt(nonce, ciphertext, batch_id.encode())
    except InvalidTag:
        raise LinkageError(
            "A vault batch cannot be decrypted: wrong key or tampered vault file"
        ) from None
    return pa.ipc.open_stream(pa.py_buffer(clear)).read_all()


def blob_table(batch_id: str) -> str:
    """The table holding one batch's ciphertext, in numbered pieces of :data:`PIECE_BYTES`
    (DuckDB reads one large BLOB value several times slower). Each batch has its own table:
    DuckDB rewrites a table's whole row group at a checkpoint when rows are appended to it,
    so a single table of blobs would be copied in full at every run (and the file would grow
    by that much)."""
    return f"vault__sealed_{hashlib.sha256(batch_id.encode()).hexdigest()[:24]}"


def _write_pieces(con: duckdb.DuckDBPyConnection, table: str, blob: bytes) -> None:
    """Store ``blob`` in ``table`` as rows of at most :data:`PIECE_BYTES` (numbered)."""
    view = memoryview(blob)
    pieces = [view[i : i + PIECE_BYTES] for i in range(0, max(len(blob), 1), PIECE_BYTES)]
    # Through Arrow, not bound parameters: several times faster for large blobs.
    con.register(
        "_pieces",
        pa.table(
            {
                "piece": pa.array(np.arange(len(pieces), dtype=np.int32)),
                "ciphertext": pa.array([bytes(p) for p in pieces], pa.binary()),
            }
        ),
    )
    try:
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT piece, ciphertext FROM _pieces")
    finally:
        con.unregister("_pieces")


def _read_pieces(con: duckdb.DuckDBPyConnection, table: str) -> bytes:
    rows = con.execute(f"SELECT piece, ciphertext FROM {table} ORDER BY piece").fetchall()
    if not rows or [r[0] for r in rows] != list(range(len(rows))):
        raise LinkageError("The vault has lost part of the ciphertext of a batch")
    return b"".join(r[1] for r in rows)


def _move_inline_blobs(con: duckdb.DuckDBPyConnection) -> None:
    """A vault written before each batch had its own table keeps its ciphertexts in a
    ``ciphertext`` column of ``vault__batches``: move them out, once, in one transaction."""
    inline = con.execute(
        "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'vault__batches' "
        "AND column_name = 'ciphertext'"
    ).fetchall()[0][0]
    if not inline:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        for (batch_id,) in con.execute("SELECT batch_id FROM vault__batches").fetchall():
            rows = con.execute(
                "SELECT ciphertext FROM vault__batches WHERE batch_id = ?", [batch_id]
            ).fetchall()
            _write_pieces(con, blob_table(batch_id), rows[0][0])
        con.execute(
            "CREATE TABLE vault__batches_moved AS SELECT batch_id, kind, load_id, n_rows, "
            "key_id, nonce, created_at FROM vault__batches"
        )
        con.execute("DROP TABLE vault__batches")
        con.execute(_DDL)
        con.execute("INSERT INTO vault__batches SELECT * FROM vault__batches_moved")
        con.execute("DROP TABLE vault__batches_moved")
        con.execute("COMMIT")
    except duckdb.Error:
        con.execute("ROLLBACK")
        raise
    con.execute("CHECKPOINT")


def _rows_by_batch(keep: pa.Table) -> dict[str, pa.Array]:
    """``batch_id`` → sorted ``batch_row`` positions of ``keep``."""
    order = keep.select(["batch_id", "batch_row"]).sort_by(
        [("batch_id", "ascending"), ("batch_row", "ascending")]
    )
    ids = order["batch_id"].combine_chunks()
    rows = order["batch_row"].combine_chunks()
    out: dict[str, pa.Array] = {}
    ends = pc.run_end_encode(ids)
    start = 0
    for batch_id, stop in zip(ends.values.to_pylist(), ends.run_ends.to_pylist(), strict=True):
        out[batch_id] = rows.slice(start, stop - start)
        start = stop
    return out


@dataclass(frozen=True, kw_only=True)
class RunRecord:
    run_id: str
    kind: str
    started_at: dt.datetime
    seconds: float
    model_json: str
    thresholds_json: str
    counts_json: str


class Vault:
    """An open identity vault (use as a context manager)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.path = vault_path(settings)
        _private_dir(self.path.parent)
        self._keys = self._load_keys()
        self.con = duckdb.connect(str(self.path))
        self.decrypted_batches = 0  # batches opened by this Vault (see get)
        self.path.chmod(0o600)
        self.con.execute(_DDL)
        _move_inline_blobs(self.con)

    def _load_keys(self) -> dict[str, bytes]:
        keys = {}
        current = ensure_vault_key(self.settings)
        keys[key_id(current)] = current
        pending = key_path(self.settings, "vault.key.new")
        if pending.exists():
            new = ensure_key(self.settings, "vault.key.new")
            keys[key_id(new)] = new
        self.current_key = current
        return keys

    def __enter__(self) -> Vault:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    # -- identity batches ------------------------------------------------------------------
    @staticmethod
    def batch_id(kind: str, load_id: str, number: int) -> str:
        """The id of the ``number``-th batch of a load (rows ``number * BATCH_ROWS`` on)."""
        return f"{kind}:{load_id}:{number:06d}"

    def put(
        self,
        table: pa.Table,
        *,
        kind: str,
        load_id: str,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> int:
        """Seal ``table`` into batches of ``kind`` (``identity`` or ``features``): row ``i``
        goes to ``batch_id(kind, load_id, i // BATCH_ROWS)``. One transaction: each
        ciphertext in its own table (see :func:`blob_table`), the batch list row beside.
        ``con``: a cursor of this vault to write through (another thread's)."""
        con = con or self.con
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        kid = key_id(self.current_key)
        sealed = []
        for start in range(0, max(table.num_rows, 1), BATCH_ROWS):
            part = table.slice(start, BATCH_ROWS)
            if part.num_rows == 0:
                break
            batch_id = self.batch_id(kind, load_id, start // BATCH_ROWS)
            nonce, blob = seal(self.current_key, part, batch_id=batch_id)
            sealed.append((batch_id, part.num_rows, nonce, blob))
        if not sealed:
            return 0
        con.execute("BEGIN TRANSACTION")
        try:
            for batch_id, n_rows, nonce, blob in sealed:
                _write_pieces(con, blob_table(batch_id), blob)
                con.execute(
                    "INSERT OR REPLACE INTO vault__batches VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [batch_id, kind, load_id, n_rows, kid, nonce, now],
                )
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        return len(sealed)

    def get(
        self,
        kind: str,
        *,
        with_batch: bool = False,
        keep: pa.Table | None = None,
    ) -> pa.Table | None:
        """Every batch of ``kind``, decrypted in memory and concatenated in sealing order
        (None if none). ``with_batch``: add the ``_batch_id`` and ``_batch_row`` (row number
        in its batch) of each row. ``keep`` (``batch_id``, ``batch_row``): open only the
        batches it names and keep only those rows, taken as each batch is opened. Counts
        the batches opened in ``decrypted_batches``."""
        listed = self.con.execute(
            "SELECT batch_id, key_id, nonce FROM vault__batches WHERE kind = ? "
            "ORDER BY created_at, batch_id",
            [kind],
        ).fetchall()
        rows = _rows_by_batch(keep) if keep is not None else {}
        if keep is not None:
            listed = [item for item in listed if item[0] in rows]
        if not listed:
            return None
        if any(kid not in self._keys for _, kid, _ in listed):
            raise LinkageError(
                "A vault batch was sealed with a key that is not available; restore "
                "keys/vault.key from your backup"
            )

        def open_batch(item: tuple[str, str, bytes]) -> pa.Table:
            batch_id, kid, nonce = item
            cursor = self.con.cursor()  # one connection per thread: the blobs are read in parallel
            try:
                blob = _read_pieces(cursor, blob_table(batch_id))
            finally:
                cursor.close()
            table = unseal(self._keys[kid], nonce, blob, batch_id=batch_id)
            positions: pa.Array | None = rows.get(batch_id)
            if positions is not None:
                table = table.take(positions)
            if with_batch:
                n = table.num_rows
                number = positions if positions is not None else pa.array(np.arange(n))
                table = table.append_column(
                    "_batch_id", pa.repeat(pa.scalar(batch_id, pa.string()), n)
                ).append_column("_batch_row", pc.cast(number, pa.int64()))
            return table

        # The blob reads, AES-GCM and LZ4 release the GIL: batches are opened on two threads.
        with ThreadPoolExecutor(max_workers=2) as pool:
            tables = list(pool.map(open_batch, listed))
        self.decrypted_batches += len(tables)
        return pa.concat_tables(tables, promote_options="default")

    def has_load(self, load_id: str) -> bool:
        """Whether a run has sealed *and indexed* the records of this load (their
        fingerprints are recorded last): a run stopped half-way is run again."""
        return bool(
            self.con.execute(
                "SELECT count(*) FROM linkage__records WHERE load_id = ?", [load_id]
            ).fetchall()[0][0]
        )

    # -- runs, index, review ---------------------------------------------------------------
    def save_run(self, run: RunRecord) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO linkage__runs VALUES (?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                run.kind,
                run.started_at,
                run.seconds,
                run.model_json,
                run.thresholds_json,
                run.counts_json,
            ],
        )

    def last_run(self) -> RunRecord | None:
        rows = self.con.execute(
            "SELECT run_id, kind, started_at, seconds, model_json, thresholds_json, counts_json "
            "FROM linkage__runs ORDER BY started_at DESC LIMIT 1"
        ).fetchall()
        if not rows:
            return None
        r = rows[0]
        return RunRecord(
            run_id=r[0],
            kind=r[1],
            started_at=r[2],
            seconds=r[3],
            model_json=r[4],
            thresholds_json=r[5],
            counts_json=r[6],
        )

    def person_index(self) -> pa.Table:
        return self.con.sql(
            "SELECT source, local_id, person_id FROM linkage__person_index "
            "ORDER BY person_id, source, local_id"
        ).to_arrow_table()

    def upsert_table(
        self,
        name: str,
        data: pa.Table,
        columns: str,
        *,
        key: str,
        replaces: pa.Table | None = None,
        con: duckdb.DuckDBPyConnection | None = None,
    ) -> None:
        """Insert ``data`` into ``name``, replacing the rows with the same ``key`` columns
        (one transaction: a delete by hash join, then an append). ``replaces``: the keys
        that may exist already, when the caller knows them (default: every key of
        ``data``). The large linkage tables have no primary-key index: DuckDB would rewrite
        a whole index of a million keys at each checkpoint. ``con``: as for :meth:`put`."""
        con = con or self.con
        on = " AND ".join(f"t.{k} = d.{k}" for k in (c.strip() for c in key.split(",")))
        con.register("_incoming", data)
        con.register("_delete", data if replaces is None else replaces)
        try:
            con.execute("BEGIN TRANSACTION")
            if (data if replaces is None else replaces).num_rows:  # else: no scan of name
                con.execute(
                    f"DELETE FROM {name} t WHERE EXISTS (SELECT 1 FROM _delete d WHERE {on})"
                )
            con.execute(f"INSERT INTO {name} SELECT {columns} FROM _incoming")
            con.execute("COMMIT")
        except duckdb.Error:
            con.execute("ROLLBACK")
            raise
        finally:
            con.unregister("_incoming")
            con.unregister("_delete")

    def replace_table(self, name: str, data: pa.Table, columns: str) -> None:
        self.con.register("_incoming", data)
        try:
            self.con.execute("BEGIN TRANSACTION")
            self.con.execute(f"DELETE FROM {name}")
            self.con.execute(f"INSERT INTO {name} SELECT {columns} FROM _incoming")
            self.con.execute("COMMIT")
        except duckdb.Error:
            self.con.execute("ROLLBACK")
            raise
        finally:
            self.con.unregister("_incoming")

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        result: pa.Table = self.con.sql(sql, params=params or None).to_arrow_table()
        return result


def rotate_vault_key(settings: Settings) -> int:
    """Re-encrypt every vault batch with a new key, then make it the current key.

    Returns the number of batches re-encrypted. Keep a backup of the key files: a vault
    without its key cannot be read by anyone.
    """
    pending = key_path(settings, "vault.key.new")
    new = ensure_key(settings, "vault.key.new")

    with Vault(settings) as vault:
        rows = vault.con.execute("SELECT batch_id, key_id, nonce FROM vault__batches").fetchall()
        new_id = key_id(new)
        vault.con.execute("BEGIN TRANSACTION")
        try:
            for batch_id, kid, nonce in rows:
                if kid == new_id:
                    continue
                if kid not in vault._keys:
                    raise LinkageError("A vault batch was sealed with an unknown key")
                blob = _read_pieces(vault.con, blob_table(batch_id))
                table = unseal(vault._keys[kid], nonce, blob, batch_id=batch_id)
                n2, b2 = seal(new, table, batch_id=batch_id)
                _write_pieces(vault.con, blob_table(batch_id), b2)
                vault.con.execute(
                    "UPDATE vault__batches SET key_id = ?, nonce = ? WHERE batch_id = ?",
                    [new_id, n2, batch_id],
                )
            vault.con.execute("COMMIT")
        except Exception:
            vault.con.execute("ROLLBACK")
            raise
        vault.con.execute("CHECKPOINT")
    os.replace(pending, key_path(settings))
    return len(rows)
