from __future__ import annotations

import logging
import stat

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from oncobase.config import Settings
from oncobase.errors import ConfigError
from oncobase.linkage import (
    LinkageError,
    Vault,
    decide,
    ensure_vault_key,
    link_into_vault,
    person_index_table,
    project_pseudonym,
    pseudonym,
    review_pairs,
    rotate_vault_key,
)
from oncobase.linkage.vault import key_path, vault_path


def _records(table: pa.Table) -> pa.Table:
    return table.drop(["person"])


def test_key_files_are_private(settings: Settings) -> None:
    key = ensure_vault_key(settings)
    path = key_path(settings)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert ensure_vault_key(settings) == key
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ensure_vault_key(settings)


def test_vault_holds_no_clear_identifier_and_logs_none(
    settings: Settings, noisy_records: pa.Table, caplog: pytest.LogCaptureFixture
) -> None:
    sample = noisy_records.slice(0, 1500)
    with caplog.at_level(logging.DEBUG):
        link_into_vault(_records(sample), settings=settings)
    raw = vault_path(settings).read_bytes()
    wal = vault_path(settings).with_suffix(".duckdb.wal")
    if wal.exists():
        raw += wal.read_bytes()
    names = {n.upper() for n in pc.drop_null(sample["last_name"]).to_pylist() if len(n) > 5}
    nirs = [n for n in pc.drop_null(sample["nir"]).to_pylist() if len(n) == 15]
    assert names and nirs
    for value in [*names, *nirs, *[n.title() for n in names]]:
        assert value.encode() not in raw
        assert value not in caplog.text
    index = person_index_table(settings)
    assert index.column_names == ["source", "local_id", "person_id"]
    with Vault(settings) as vault:
        back = vault.get("identity")
    assert back is not None and back.num_rows == 1500


def test_rotation_reencrypts(settings: Settings, noisy_records: pa.Table) -> None:
    link_into_vault(_records(noisy_records.slice(0, 300)), settings=settings)
    old = ensure_vault_key(settings)
    assert rotate_vault_key(settings) >= 2
    assert ensure_vault_key(settings) != old
    with Vault(settings) as vault:
        back = vault.get("identity")
    assert back is not None and back.num_rows == 300


def test_pseudonyms(settings: Settings) -> None:
    from oncobase.linkage import ensure_pseudonym_key

    key = ensure_pseudonym_key(settings)
    assert pseudonym(7, key=key) == pseudonym(7, key=key) != pseudonym(8, key=key)
    a, b = project_pseudonym(7, "P1", key=key), project_pseudonym(7, "P2", key=key)
    assert a != b and a != pseudonym(7, key=key) and len(a) == 64


def test_ids_are_stable_across_runs_and_increments(
    settings: Settings, noisy_records: pa.Table
) -> None:
    records = _records(noisy_records.slice(0, 3000))
    first, batch = records.slice(0, 2700), records.slice(2700)
    full = link_into_vault(first, settings=settings)
    assert full.kind == "full"
    before = {(r["source"], r["local_id"]): r["person_id"]
              for r in person_index_table(settings).to_pylist()}  # fmt: skip
    again = link_into_vault(first, settings=settings)
    assert again.kind == "unchanged"
    step = link_into_vault(batch, settings=settings)
    assert step.kind == "incremental"
    after = {(r["source"], r["local_id"]): r["person_id"]
             for r in person_index_table(settings).to_pylist()}  # fmt: skip
    assert len(after) == 3000
    kept = sum(after[k] == v for k, v in before.items())
    assert kept >= 0.995 * len(before)  # merges only: ids of merged persons take the smallest
    truth = dict(zip(noisy_records["record_id"].to_pylist(), noisy_records["person"].to_pylist(),
                     strict=True))  # fmt: skip
    new_records = batch["record_id"].to_pylist()
    joined = [
        r
        for r in new_records
        if any(truth[o] == truth[r] for o in first["record_id"].to_pylist()[:0])
    ]
    del joined
    by_person: dict[str, set[int]] = {}
    for (_, local), pid in after.items():
        by_person.setdefault(truth[local], set()).add(pid)
    split = sum(len(v) > 1 for v in by_person.values())
    assert split <= 0.02 * len(by_person)


def test_clerical_decisions_are_respected(settings: Settings, noisy_records: pa.Table) -> None:
    records = _records(noisy_records.slice(0, 2000))
    link_into_vault(records, settings=settings)
    pairs = review_pairs(settings)
    index = {(r["source"], r["local_id"]): r["person_id"]
             for r in person_index_table(settings).to_pylist()}  # fmt: skip
    if pairs.num_rows == 0:  # make one: force a link between two unrelated records
        with Vault(settings) as vault:
            vault.con.execute(
                "INSERT INTO linkage__review VALUES ('p0', ?, ?, ?, ?, 0.7, 'x')",
                [records["source"][0].as_py(), records["record_id"][0].as_py(),
                 records["source"][1].as_py(), records["record_id"][1].as_py()],
            )  # fmt: skip
        pairs = review_pairs(settings)
    pair = pairs.to_pylist()[0]
    a, b = (pair["source_l"], pair["record_id_l"]), (pair["source_r"], pair["record_id_r"])
    decision = "non-match" if index[a] == index[b] else "match"
    decide(settings, pair["pair_id"], decision)
    with pytest.raises(LinkageError, match="No review pair"):
        decide(settings, "nope", "match")
    # the same input again: the decision contradicts the index, so the run is not skipped
    summary = link_into_vault(records, settings=settings, incremental=False)
    assert summary.kind == "full"
    after = {(r["source"], r["local_id"]): r["person_id"]
             for r in person_index_table(settings).to_pylist()}  # fmt: skip
    assert (after[a] == after[b]) == (decision == "match")
    assert pair["pair_id"] not in review_pairs(settings)["pair_id"].to_pylist()


def _noise(rows: int, seed: int) -> pa.Table:
    """Incompressible rows (random bytes): what a batch costs on disk is its size."""
    import numpy as np

    rng = np.random.default_rng(seed)
    blobs = [rng.bytes(1000) for _ in range(rows)]
    return pa.table({"source": pa.array(["s"] * rows), "record_id": pa.array(
        [f"{seed}-{i}" for i in range(rows)]), "payload": pa.array(blobs, pa.binary())})  # fmt: skip


def test_a_checkpoint_writes_only_the_new_batches(settings: Settings) -> None:
    """Each batch has its own table: adding a small load does not copy the stored batches
    again (one table of blobs was rewritten whole at each checkpoint, and the file grew by
    the whole vault at each run)."""
    with Vault(settings) as vault:
        vault.put(_noise(3000, 1), kind="features", load_id="big")
        vault.con.execute("CHECKPOINT")
        before = vault_path(settings).stat().st_size
        vault.put(_noise(50, 2), kind="features", load_id="small")
        vault.con.execute("CHECKPOINT")
        after = vault_path(settings).stat().st_size
        assert after - before < 1_000_000, (before, after)  # the big load is 3 MB
        back = vault.get("features")
    assert back is not None and back.num_rows == 3050


def test_get_keeps_the_rows_asked_for_and_says_where_they_are(settings: Settings) -> None:
    table = _noise(10, 3)
    with Vault(settings) as vault:
        vault.put(table, kind="features", load_id="l")
        batch = Vault.batch_id("features", "l", 0)
        keep = pa.table({"batch_id": [batch, batch, batch], "batch_row": [7, 2, 4]})
        kept = vault.get("features", with_batch=True, keep=keep)
        assert vault.get("features", keep=keep.slice(0, 0)) is None
        assert vault.decrypted_batches == 1
    assert kept is not None
    assert kept["record_id"].to_pylist() == ["3-2", "3-4", "3-7"]  # in batch order
    assert kept["_batch_row"].to_pylist() == [2, 4, 7]
    assert set(kept["_batch_id"].to_pylist()) == {batch}


def test_a_vault_with_its_ciphertexts_inline_is_moved_once(settings: Settings) -> None:
    """Vaults written before each batch had its own table keep working."""
    import duckdb

    from oncobase.linkage.vault import seal

    table = _noise(20, 4)
    key = ensure_vault_key(settings)
    batch = Vault.batch_id("identity", "old", 0)
    nonce, blob = seal(key, table, batch_id=batch)
    vault_path(settings).parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(vault_path(settings)))
    con.execute(
        "CREATE TABLE vault__batches (batch_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, "
        "load_id VARCHAR NOT NULL, n_rows BIGINT NOT NULL, key_id VARCHAR NOT NULL, "
        "nonce BLOB NOT NULL, ciphertext BLOB NOT NULL, created_at TIMESTAMP NOT NULL)"
    )
    from oncobase.linkage.vault import key_id

    con.execute(
        "INSERT INTO vault__batches VALUES (?, 'identity', 'old', 20, ?, ?, ?, now())",
        [batch, key_id(key), nonce, blob],
    )
    con.close()
    with Vault(settings) as vault:
        back = vault.get("identity")
        columns = [r[0] for r in vault.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'vault__batches'"
        ).fetchall()]  # fmt: skip
    assert back is not None and back.equals(table)
    assert "ciphertext" not in columns
    with Vault(settings) as vault:  # opened again: nothing left to move
        again = vault.get("identity")
    assert again is not None and again.num_rows == 20
