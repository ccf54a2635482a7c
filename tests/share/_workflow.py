"""Helpers of the access-request tests: accounts, a cohort in a real store, a real SMTP server,
and reading a downloaded extract archive."""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from tests._server import free_port

from oncobase.store import bulk_load, connect
from oncobase.store.operational import AuditEntry, Notification

COHORT = "test_cohort"
DRAFT = {
    "title": "Survival after lung surgery",
    "purpose": "Estimate five-year survival after surgery by stage.",
    "public_interest": "Better surgical indications for lung cancer patients.",
    "legal_basis": "GDPR art. 6(1)(e) and 9(2)(j); CNIL MR-004",
    "cohort": COHORT,
    "variables": ["person.year_of_birth", "person.sex", "tumour.icd10", "death.date"],
    "date_precision": "month",
    "duration_days": 180,
}
# What a researcher may never receive: store ids and direct identifiers.
FORBIDDEN_COLUMNS = {"person_id", "person_source_value", "name", "nir", "birth_date", "address"}


def add_cohort(store: Path, person_ids: list[int], *, name: str = COHORT) -> None:
    """Write a built cohort (``cohort_definition`` + ``cohort`` rows) with the bulk loader."""
    with connect(f"duckdb:///{store}") as backend:
        cid = int(str(backend.scalar(
            "SELECT coalesce(max(cohort_definition_id), 0) + 1 FROM cohort_definition")))  # fmt: skip
        bulk_load(backend, "cohort_definition", pa.table({
            "cohort_definition_id": pa.array([cid], pa.int64()),
            "cohort_definition_name": [name],
            "definition_type_concept_id": pa.array([0], pa.int64()),
            "subject_concept_id": pa.array([0], pa.int64()),
        }), step="test", source="builder")  # fmt: skip
        bulk_load(backend, "cohort", pa.table({
            "cohort_definition_id": pa.array([cid] * len(person_ids), pa.int64()),
            "subject_id": pa.array(person_ids, pa.int64()),
            "cohort_start_date": [dt.date(2020, 1, 1)] * len(person_ids),
            "cohort_end_date": [dt.date(2024, 1, 1)] * len(person_ids),
        }), step="test", source="builder")  # fmt: skip


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Message


@dataclass
class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps what it receives."""

    port: int
    mails: list[Mail] = field(default_factory=list)

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        content = getattr(envelope, "content", b"")
        self.mails.append(
            Mail(
                sender=str(getattr(envelope, "mail_from", "")),
                recipients=list(getattr(envelope, "rcpt_tos", [])),
                message=message_from_bytes(content if isinstance(content, bytes) else b""),
            )
        )
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.recipients]


@contextmanager
def smtp_sink() -> Iterator[SmtpSink]:
    from aiosmtpd.controller import Controller

    sink = SmtpSink(port=free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


def audit_actions(factory: sessionmaker[Session], *, target: str | None = None) -> list[str]:
    """The audit log's actions in order (optionally for one target)."""
    query = select(AuditEntry).order_by(AuditEntry.seq)
    if target is not None:
        query = query.where(AuditEntry.target == target)
    with factory() as session:
        return [e.action for e in session.scalars(query)]


def audit_entries(factory: sessionmaker[Session], action: str) -> list[AuditEntry]:
    with factory() as session:
        return list(
            session.scalars(
                select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
            )
        )


def notifications_of(factory: sessionmaker[Session], username: str) -> list[Notification]:
    with factory() as session:
        return list(
            session.scalars(
                select(Notification)
                .where(Notification.username == username)
                .order_by(Notification.notification_id)
            )
        )


@dataclass
class ExtractContent:
    """What a downloaded archive holds: the data columns of each file, and all its text."""

    columns: dict[str, list[str]]  # member name → column names (CSV header, Parquet schema)
    text: str  # every text member concatenated (CSV, NDJSON, JSON)
    members: list[str]


def read_extract(data: bytes) -> ExtractContent:
    columns: dict[str, list[str]] = {}
    texts: list[str] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        members = archive.namelist()
        for name in members:
            raw = archive.read(name)
            if name.endswith(".parquet"):
                table = pq.read_table(io.BytesIO(raw))
                columns[name] = table.column_names
                texts.append(json.dumps(table.to_pylist(), default=str))
            elif name.endswith(".csv"):
                text = raw.decode("utf-8")
                columns[name] = [c.strip('"') for c in text.splitlines()[0].split(",")]
                texts.append(text)
            else:
                texts.append(raw.decode("utf-8", errors="replace"))
    return ExtractContent(columns=columns, text="\n".join(texts), members=members)
