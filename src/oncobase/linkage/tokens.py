"""Keyed blocking tokens: find an increment's candidates without decrypting the vault.

For each blocking rule of the stored model that is a conjunction of equalities
(``l.a = r.a AND substr(l.b, 1, 13) = substr(r.c, 1, 13)``), a stored record keeps a
**token** of the tuple of its key values: a keyed SHA-256, ``SHA-256(K_rule ‖ 0³² ‖ m)``,
truncated to its first 8 bytes (a BIGINT), where ``K_rule`` (32 bytes) is derived for the
rule by HMAC-SHA256 from ``<home>/keys/blocking.key`` (0600) and fills, with its zero
padding, the first 64-byte block of the hash. A symmetric rule has
one token per record; an asymmetric one a token of its left-hand side and one of its right-hand
side (both under the rule's key, so that ``l``-side tokens meet ``r``-side tokens). A key tuple
with a NULL value has no token (SQL equality is never true on NULL).

Two records with equal key values have equal tokens, so joining tokens finds every pair the
rule would generate; a truncation collision can only add a candidate, and the increment checks
the candidates again with the exact rule on the decrypted features. The tokens live in the
vault file (``linkage__blocking_tokens``, beside where each record's features are: batch id
and row), never in
the clinical store. Without the key they cannot be reversed or recomputed from guessed
identities; to someone holding the vault file they reveal which stored records share a
blocking key (equality), not the key values.

Why a secret-prefix hash and not HMAC: HMAC's second hash exists to stop length extension,
which needs the whole 32-byte digest; a token keeps 8 of them, so length extension is not
possible (the reason SHA-512/256 is immune), and the keyed first block makes the hash a
pseudo-random function of ``m`` to whoever lacks the key, as HMAC's inner hash is. It halves
the hashing, which was the dearest part of building the tokens (15 per record). Tokens of
the former scheme (HMAC) carry another key id (:func:`key_id`), so a vault holding them
rebuilds its tokens once.

The hash runs inside DuckDB (``sha256`` over BLOBs), column at a time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from oncobase.config import Settings
from oncobase.keys import ensure_key

BLOCKING_TABLE = "linkage__blocking_tokens"
SLOT_TABLE = "linkage__token_slots"
_BLOCK = 64  # SHA-256 block size


@dataclass(frozen=True, kw_only=True)
class Slot:
    """One token column: a rule's key tuple on one side (``l`` or ``r``; ``lr`` = both)."""

    rule: str
    side: str
    exprs: tuple[str, ...]  # SQL over the alias ``t``
    domain: str  # what the token key is derived for: the rule's two sides, unordered

    @property
    def column(self) -> str:
        name = f"{self.domain}|{'|'.join(self.exprs)}"
        return f"t_{hashlib.sha256(name.encode()).hexdigest()[:12]}"


def ensure_blocking_key(settings: Settings) -> bytes:
    """The blocking-token key (``<home>/keys/blocking.key``, 0600, created on first use)."""
    return ensure_key(settings, "blocking.key")


def _sides(conjunct: str) -> tuple[str, str] | None:
    """(left-side expr, right-side expr) of ``a = b`` where one side uses only ``l.`` and
    the other only ``r.`` (None otherwise)."""
    if conjunct.count(" = ") != 1:
        return None
    a, b = (part.strip() for part in conjunct.split(" = "))

    def uses(text: str, alias: str) -> bool:
        return re.search(rf"\b{alias}\.", text) is not None

    if uses(a, "l") and not uses(a, "r") and uses(b, "r") and not uses(b, "l"):
        return a, b
    if uses(b, "l") and not uses(b, "r") and uses(a, "r") and not uses(a, "l"):
        return b, a
    return None


def _on(expr: str, alias: str) -> str:
    return re.sub(r"\b[lr]\.", f"{alias}.", expr)


def rule_slots(rules: list[str]) -> list[Slot] | None:
    """The token columns of ``rules`` (None if a rule is not a conjunction of equalities
    between one ``l`` and one ``r`` expression: then tokens cannot stand for it)."""
    slots: list[Slot] = []
    for rule in rules:
        conjuncts = re.split(r"\s+AND\s+", " ".join(rule.split()), flags=re.I)
        pairs = [_sides(c) for c in conjuncts]
        if not pairs or any(p is None for p in pairs):
            return None
        left = tuple(_on(p[0], "t") for p in pairs if p is not None)
        right = tuple(_on(p[1], "t") for p in pairs if p is not None)
        # Rules with the same two sides (a rule and its mirror) share key and tokens.
        domain = " <> ".join(sorted(["\x1f".join(left), "\x1f".join(right)]))
        if left == right:  # symmetric: one token per record
            slots.append(Slot(rule=rule, side="lr", exprs=left, domain=domain))
        else:
            slots.append(Slot(rule=rule, side="l", exprs=left, domain=domain))
            slots.append(Slot(rule=rule, side="r", exprs=right, domain=domain))
    return slots


def columns(slots: list[Slot]) -> list[Slot]:
    """One slot per distinct token column (a rule and its mirror share theirs)."""
    return list({s.column: s for s in slots}.values())


def rule_key(key: bytes, slot: Slot) -> bytes:
    """The key of a slot's tokens, derived (HMAC) from the blocking key for its domain."""
    return hmac.new(key, f"blocking-rule:{slot.domain}".encode(), hashlib.sha256).digest()


def token_prefix(key: bytes, slot: Slot) -> bytes:
    """The secret first block of a slot's token hash: its rule key, zero-padded to 64 bytes."""
    return rule_key(key, slot).ljust(_BLOCK, b"\0")


def compute_tokens(
    con: duckdb.DuckDBPyConnection,
    table: str,
    slots: list[Slot],
    *,
    key: bytes,
    extra: str = "",
) -> pa.Table:
    """``source, record_id[, extra], <one BIGINT per token column>`` for the rows of ``table`` (a
    relation name on ``con`` with the feature columns), computed by DuckDB."""
    params: dict[str, bytes] = {}
    selected = []
    for i, slot in enumerate(columns(slots)):
        params[f"k{i}"] = token_prefix(key, slot)
        message = (
            "concat_ws(chr(31), " + ", ".join(f"CAST({e} AS VARCHAR)" for e in slot.exprs) + ")"
        )
        null = " OR ".join(f"({e}) IS NULL" for e in slot.exprs)
        digest = f"sha256($k{i} || encode({message}))"
        selected.append(
            f"CASE WHEN {null} THEN NULL ELSE CAST(CAST(('0x' || substr({digest}, 1, 16)) "
            f"AS UBIGINT) AS HUGEINT) - 9223372036854775808 END::BIGINT AS {slot.column}"
        )
    select = ", ".join(["t.source", "t.record_id", *([extra] if extra else []), *selected])
    result: pa.Table = con.sql(f"SELECT {select} FROM {table} t", params=params).to_arrow_table()
    return result


TOKEN_SCHEME = "prefix-sha256-64"  # noqa: S105 (a scheme name; other schemes are rebuilt)


def key_id(key: bytes) -> str:
    """An id of the blocking key and of the token scheme (a hash prefix, not the key)."""
    return hashlib.sha256(f"blocking-key-id:{TOKEN_SCHEME}:".encode() + key).hexdigest()[:16]


def slots_match(con: duckdb.DuckDBPyConnection, slots: list[Slot], key: bytes) -> bool:
    """Whether the vault's token table holds exactly ``slots``' columns, under ``key``
    (tokens of another key would never meet the new records' tokens)."""
    stored = con.execute(
        f"SELECT rule, side, col, key_id FROM {SLOT_TABLE} ORDER BY pos"
    ).fetchall()
    return stored == [(s.rule, s.side, s.column, key_id(key)) for s in slots]


def token_ddl(slots: list[Slot]) -> str:
    cols = ", ".join(f"{s.column} BIGINT" for s in columns(slots))
    return (
        f"CREATE OR REPLACE TABLE {BLOCKING_TABLE} (source VARCHAR NOT NULL, "
        f"record_id VARCHAR NOT NULL, batch_id VARCHAR NOT NULL, batch_row BIGINT NOT NULL, "
        f"{cols})"
    )


def candidate_sql(slots: list[Slot], new: str) -> str:
    """SELECT of the stored (source, record_id, batch_id) whose token meets a token of a row
    of ``new`` under some rule and orientation (hash semi-joins on BIGINT columns)."""
    by_rule: dict[str, dict[str, Slot]] = {}
    for slot in slots:
        by_rule.setdefault(slot.rule, {})[slot.side] = slot
    selects = []
    for sides in by_rule.values():
        if "lr" in sides:
            pairs = [(sides["lr"], sides["lr"])]
        else:
            pairs = [(sides["l"], sides["r"]), (sides["r"], sides["l"])]
        for stored, incoming in pairs:
            selects.append(
                f"SELECT s.source, s.record_id, s.batch_id FROM {BLOCKING_TABLE} s "
                f"WHERE s.{stored.column} IN (SELECT n.{incoming.column} FROM {new} n "
                f"WHERE n.{incoming.column} IS NOT NULL)"
            )
    return " UNION ".join(dict.fromkeys(selects))
