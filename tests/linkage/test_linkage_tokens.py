"""Keyed blocking tokens: an increment decrypts only the vault batches that hold its
candidates, gives the same index as the path without tokens, and old vaults still work."""

from __future__ import annotations

import hashlib
import hmac
import stat
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from oncobase.config import Settings, load_settings
from oncobase.linkage import Vault, link_into_vault, normalise_identities, person_index_table
from oncobase.linkage.model import BLOCKING_RULES
from oncobase.linkage.tokens import (
    BLOCKING_TABLE,
    SLOT_TABLE,
    columns,
    compute_tokens,
    ensure_blocking_key,
    rule_slots,
)


def _sharing_a_blocking_key(a: pa.Table, c: pa.Table) -> pa.Array:
    """Record ids of ``a`` that a blocking rule pairs with a record of ``c`` (exact rules on
    the clear features, both orientations)."""
    con = duckdb.connect()
    con.register("a", normalise_identities(a))
    con.register("c", normalise_identities(c))
    selects = [f"SELECT l.record_id FROM a l JOIN c r ON {rule}" for rule in BLOCKING_RULES] + [
        f"SELECT r.record_id FROM c l JOIN a r ON {rule}" for rule in BLOCKING_RULES
    ]
    return con.sql(" UNION ".join(selects)).to_arrow_table()["record_id"].combine_chunks()


def _loads(records: pa.Table) -> tuple[pa.Table, pa.Table, pa.Table]:
    """B: records of persons 1000–1999 but every 8th; C: those held back; A: records of
    persons < 1000 that share no blocking key with a record of B or C (the generator's
    namesakes dropped), so that no person of the index holds records of A and B."""
    person = pc.cast(records["person"], pa.int64())
    a = records.filter(pc.less(person, 1000))
    b_all = records.filter(pc.and_(pc.greater_equal(person, 1000), pc.less(person, 2000)))
    held = pa.array([i % 8 == 0 for i in range(b_all.num_rows)])
    c = b_all.filter(held)
    shared = _sharing_a_blocking_key(a.drop(["person"]), b_all.drop(["person"]))
    assert 0 < len(shared) < 0.1 * a.num_rows
    a = a.filter(pc.invert(pc.is_in(a["record_id"], value_set=shared)))
    return a, b_all.filter(pc.invert(held)), c


def _index(settings: Settings) -> dict[str, int]:
    rows = person_index_table(settings).to_pylist()
    return {r["local_id"]: r["person_id"] for r in rows}


def _drop_tokens(settings: Settings) -> None:
    """Make the vault look like one written before blocking tokens existed."""
    with Vault(settings) as vault:
        vault.con.execute(f"DROP TABLE IF EXISTS {BLOCKING_TABLE}")
        vault.con.execute(f"DELETE FROM {SLOT_TABLE}")


def test_increment_decrypts_only_the_batches_holding_candidates(
    tmp_path: Path, noisy_records: pa.Table
) -> None:
    a, b, c = (t.drop(["person"]) for t in _loads(noisy_records))
    homes = [load_settings(home=tmp_path / name) for name in ("tokens", "old")]
    for settings in homes:
        assert link_into_vault(a, settings=settings).kind == "full"
        assert link_into_vault(b, settings=settings).kind == "incremental"
    with Vault(homes[0]) as vault:
        tokens, registered = vault.con.execute(
            f"SELECT (SELECT count(*) FROM {BLOCKING_TABLE}), "
            "(SELECT count(*) FROM linkage__records)"
        ).fetchall()[0]
    assert tokens == registered == a.num_rows + b.num_rows
    _drop_tokens(homes[1])

    with_tokens = link_into_vault(c, settings=homes[0])
    without = link_into_vault(c, settings=homes[1])
    assert with_tokens.kind == without.kind == "incremental"
    # two features batches (loads A and B); C's new records only meet B's persons
    assert with_tokens.counts["feature_batches"] == 2
    assert with_tokens.counts["decrypted_batches"] == 1, with_tokens.counts
    assert with_tokens.counts["token_candidates"] >= with_tokens.counts["candidates"] > 0
    # the old vault decrypts everything, then gets its tokens built
    assert without.counts["decrypted_batches"] == 2
    assert "token_candidates" not in without.counts
    # same candidates, same persons, same index either way
    for key in ("candidates", "involved_persons", "relinked_records", "links"):
        if key in without.counts:
            assert with_tokens.counts[key] == without.counts[key], key
    assert _index(homes[0]) == _index(homes[1])
    with Vault(homes[1]) as vault:
        rebuilt = vault.con.execute(f"SELECT count(*) FROM {BLOCKING_TABLE}").fetchall()[0][0]
    assert rebuilt == a.num_rows + b.num_rows + c.num_rows
    # ... so its next increment goes through the tokens too
    late = a.slice(0, 5).set_column(
        a.column_names.index("record_id"), "record_id", pa.array([f"late-{i}" for i in range(5)])
    )
    again = link_into_vault(late, settings=homes[1])
    assert again.kind == "incremental" and "token_candidates" in again.counts
    # a replaced blocking key: the stored tokens are not used (they would meet nothing)
    (homes[0].home_path / "keys" / "blocking.key").unlink()
    rekeyed = link_into_vault(late, settings=homes[0])
    assert "token_candidates" not in rekeyed.counts
    assert rekeyed.counts["decrypted_batches"] == rekeyed.counts["feature_batches"] == 3
    assert _index(homes[0]) == _index(homes[1])


def test_tokens_are_truncated_keyed_sha256_under_a_private_key(
    settings: Settings, noisy_records: pa.Table
) -> None:
    features = normalise_identities(noisy_records.slice(0, 200).drop(["person"]))
    slots = rule_slots(list(BLOCKING_RULES))
    assert slots is not None
    # the two asymmetric NIR-prefix rules have a token per side
    assert {s.side for s in slots if "nir_weak" in s.rule} == {"l", "r"}
    # ... and a rule and its mirror share their token columns
    assert len(columns(slots)) == len(slots) - 2
    key = ensure_blocking_key(settings)
    path = settings.home_path / "keys" / "blocking.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    con = duckdb.connect()
    con.register("f", features)
    tokens = compute_tokens(con, "f", slots, key=key)
    slot = next(s for s in slots if s.rule == "l.bd_str = r.bd_str AND l.fn1_ph = r.fn1_ph")
    derived = hmac.new(key, f"blocking-rule:{slot.domain}".encode(), hashlib.sha256).digest()
    rows = features.select(["bd_str", "fn1_ph"]).to_pylist()
    expected = []
    for row in rows:
        if row["bd_str"] is None or row["fn1_ph"] is None:
            expected.append(None)
            continue
        message = f"{row['bd_str']}\x1f{row['fn1_ph']}".encode()
        digest = hashlib.sha256(derived.ljust(64, b"\0") + message).digest()
        expected.append(int.from_bytes(digest[:8], "big") - 2**63)
    assert tokens[slot.column].to_pylist() == expected
    assert any(v is not None for v in expected)
    # another key gives other tokens: they cannot be recomputed without the key
    other = compute_tokens(con, "f", slots, key=b"\x01" * 32)
    assert other[slot.column].to_pylist() != expected
