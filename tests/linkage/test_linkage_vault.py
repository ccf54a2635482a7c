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
