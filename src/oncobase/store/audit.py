"""The append-only, hash-chained audit log of the web service.

Each entry carries the HMAC-SHA256 (keyed by ``<home>/keys/audit.key``) of the previous
entry's hash and of its own fields; a head row records the last sequence number and hash, so
an edited, deleted, inserted or truncated entry breaks :func:`verify_audit`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oncobase.config import Settings
from oncobase.keys import read_or_create_hex_key
from oncobase.store.operational import AuditEntry, AuditHead

GENESIS = "0" * 64
_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True)
class AuditVerification:
    ok: bool
    entries: int
    problem: str | None = None


def audit_key(settings: Settings) -> bytes:
    """The key of the audit chain's HMAC (``<home>/keys/audit.key``), created on first use."""
    return read_or_create_hex_key(settings.home_path / "keys" / "audit.key")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _digest(key: bytes, prev_hash: str, entry: AuditEntry) -> str:
    payload = json.dumps(
        [
            entry.seq,
            entry.at.isoformat(),
            entry.actor,
            entry.role,
            entry.action,
            entry.target,
            entry.detail,
            prev_hash,
        ],
        ensure_ascii=False,
    )
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def append_audit(
    factory: sessionmaker[Session],
    key: bytes,
    *,
    actor: str,
    role: str,
    action: str,
    target: str = "",
    detail: dict[str, object] | None = None,
) -> AuditEntry:
    """Append one entry at the end of the chain."""
    with _LOCK, factory.begin() as session:
        head = session.get(AuditHead, "head")
        prev_hash, seq = (head.entry_hash, head.seq + 1) if head else (GENESIS, 1)
        entry = AuditEntry(
            seq=seq,
            at=_now(),
            actor=actor[:100],
            role=role[:30],
            action=action[:60],
            target=target[:200],
            detail=json.dumps(detail or {}, sort_keys=True, ensure_ascii=False, default=str),
            prev_hash=prev_hash,
        )
        entry.entry_hash = _digest(key, prev_hash, entry)
        session.add(entry)
        if head is None:
            session.add(AuditHead(name="head", seq=seq, entry_hash=entry.entry_hash))
        else:
            head.seq, head.entry_hash = seq, entry.entry_hash
        return entry


def verify_audit(factory: sessionmaker[Session], key: bytes) -> AuditVerification:
    """Walk the chain from the first entry; report the first break."""
    with factory() as session:
        prev_hash, expected_seq, count = GENESIS, 1, 0
        for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.seq)):
            if entry.seq != expected_seq:
                return AuditVerification(
                    ok=False, entries=count, problem=f"entry {expected_seq} is missing"
                )
            if entry.prev_hash != prev_hash or _digest(key, prev_hash, entry) != entry.entry_hash:
                return AuditVerification(
                    ok=False, entries=count, problem=f"entry {entry.seq} was altered"
                )
            prev_hash, expected_seq, count = entry.entry_hash, expected_seq + 1, count + 1
        head = session.get(AuditHead, "head")
        if (head is None and count) or (
            head is not None and (head.seq != count or head.entry_hash != prev_hash)
        ):
            return AuditVerification(
                ok=False, entries=count, problem="the last entries were removed (head mismatch)"
            )
    return AuditVerification(ok=True, entries=count)


def search_audit(
    factory: sessionmaker[Session],
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 200,
) -> list[AuditEntry]:
    """Newest entries first, filtered by actor, action and target (substring)."""
    query = select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(max(1, min(limit, 5000)))
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if target:
        query = query.where(AuditEntry.target.contains(target))
    with factory() as session:
        return list(session.scalars(query))
