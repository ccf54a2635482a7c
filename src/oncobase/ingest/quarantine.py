"""Quarantine: rejected records kept whole, with the reason and where they came from.

Nothing is dropped. A rejected record's raw content may hold identifiers, so it is stored
encrypted (AES-GCM, key ``<home>/keys/quarantine.key``, 0600); the reason, file and location
stay in clear for the browsable report and never quote the record's values.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from oncobase.config import Settings
from oncobase.errors import OncobaseError
from oncobase.keys import ensure_key
from oncobase.store import Backend, bulk_load
from oncobase.store.metadata import new_id, utcnow

_NONCE = 12


class IngestError(OncobaseError):
    """A feed cannot be read or loaded; the message says which file and what to do."""


@dataclass(frozen=True, kw_only=True)
class Rejected:
    file: str
    location: str  # "line 12", "entry 3", "row 7"
    reason: str
    raw: bytes


@dataclass(kw_only=True)
class Quarantine:
    """Collects the rejects of one load."""

    source: str
    rejects: list[Rejected] = field(default_factory=list)

    def add(self, *, file: str | Path, location: str, reason: str, raw: bytes | str) -> None:
        data = raw.encode("utf-8", "surrogateescape") if isinstance(raw, str) else raw
        self.rejects.append(Rejected(file=str(file), location=location, reason=reason, raw=data))

    def add_many(
        self, *, file: str | Path, locations: list[str], reasons: list[str], raws: list[bytes]
    ) -> None:
        for location, reason, raw in zip(locations, reasons, raws, strict=True):
            self.add(file=file, location=location, reason=reason, raw=raw)

    def __len__(self) -> int:
        return len(self.rejects)

    def by_reason(self) -> dict[str, int]:
        return dict(Counter(r.reason.split(":", 1)[0] for r in self.rejects))

    def to_table(self, *, key: bytes, load_id: str) -> pa.Table:
        cipher = AESGCM(key)
        encrypted = []
        for reject in self.rejects:
            nonce = os.urandom(_NONCE)
            sealed = cipher.encrypt(nonce, reject.raw, self.source.encode())
            encrypted.append(base64.b64encode(nonce + sealed).decode("ascii"))
        now = utcnow()
        n = len(self.rejects)
        return pa.table(
            {
                "quarantine_id": [new_id() for _ in range(n)],
                "load_id": [load_id] * n,
                "source": [self.source] * n,
                "file": [r.file for r in self.rejects],
                "location": [r.location for r in self.rejects],
                "reason": [r.reason for r in self.rejects],
                "raw_sha256": [hashlib.sha256(r.raw).hexdigest() for r in self.rejects],
                "raw_encrypted": encrypted,
                "quarantined_at": pa.array([now] * n, pa.timestamp("us")),
            }
        )


def store_quarantine(
    backend: Backend, settings: Settings, quarantine: Quarantine, *, load_id: str
) -> int:
    """Write the rejects of a load to ``ingest__quarantine``."""
    if not len(quarantine):
        return 0
    table = quarantine.to_table(key=ensure_key(settings, "quarantine.key"), load_id=load_id)
    bulk_load(
        backend, "ingest__quarantine", table, step="ingest.quarantine", source=quarantine.source
    )
    return int(table.num_rows)


def list_quarantine(backend: Backend, *, source: str | None = None, limit: int = 100) -> pa.Table:
    """Rejected records (without their raw content), newest first."""
    where, params = ("WHERE source = $1", (source,)) if source else ("", ())
    return backend.query_arrow(
        "SELECT quarantined_at, source, file, location, reason, raw_sha256, quarantine_id "
        f"FROM ingest__quarantine {where} ORDER BY quarantined_at DESC, file, location "
        f"LIMIT {int(limit)}",
        params,
    )


def decrypt_raw(settings: Settings, *, source: str, raw_encrypted: str) -> bytes:
    """The raw content of a rejected record (for a data steward fixing a feed)."""
    blob = base64.b64decode(raw_encrypted)
    cipher = AESGCM(ensure_key(settings, "quarantine.key"))
    return cipher.decrypt(blob[:_NONCE], blob[_NONCE:], source.encode())
