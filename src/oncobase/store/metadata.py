"""The platform's load metadata: one row in ``platform__loads`` per load or pipeline step run."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa

from oncobase.store.backend import Backend


def utcnow() -> datetime:
    """Naive UTC timestamp (the store keeps timestamps without time zone)."""
    return datetime.now(UTC).replace(tzinfo=None)


def new_id() -> str:
    return str(uuid.uuid4())


@dataclass(kw_only=True)
class LoadRecord:
    """What one load (or one pipeline step run) read, kept and rejected."""

    step: str
    source: str
    target_table: str | None = None
    input_hash: str | None = None
    run_id: str | None = None
    rows_read: int | None = None
    rows_accepted: int = 0
    rows_quarantined: int = 0
    status: str = "running"
    message: str | None = None
    load_id: str = field(default_factory=new_id)
    started_at: datetime = field(default_factory=utcnow)
    ended_at: datetime | None = None


_COLUMNS = (
    "load_id",
    "run_id",
    "step",
    "source",
    "target_table",
    "input_hash",
    "rows_read",
    "rows_accepted",
    "rows_quarantined",
    "started_at",
    "ended_at",
    "status",
    "message",
)


def record_load(backend: Backend, record: LoadRecord) -> LoadRecord:
    """Write (or rewrite, by load id) a load record."""
    backend.execute("DELETE FROM platform__loads WHERE load_id = $1", (record.load_id,))
    placeholders = ", ".join(f"${i}" for i in range(1, len(_COLUMNS) + 1))
    backend.execute(
        f"INSERT INTO platform__loads ({', '.join(_COLUMNS)}) VALUES ({placeholders})",
        tuple(getattr(record, c) for c in _COLUMNS),
    )
    return record


def finish_load(
    backend: Backend, record: LoadRecord, *, status: str, message: str | None = None
) -> LoadRecord:
    """Mark a load finished with ``status`` (success, failed, skipped) and store it."""
    record.status = status
    record.message = message
    record.ended_at = utcnow()
    return record_load(backend, record)


def list_loads(backend: Backend, *, step: str | None = None, limit: int = 50) -> pa.Table:
    """The most recent loads, newest first, optionally of one step."""
    where, params = ("WHERE step = $1", (step,)) if step else ("", ())
    return backend.query_arrow(
        f"SELECT {', '.join(_COLUMNS)} FROM platform__loads {where} "
        f"ORDER BY started_at DESC LIMIT {int(limit)}",
        params,
    )
