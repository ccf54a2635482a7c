"""The FHIR staging step: files → batches → validated resources → staged Parquet + identity."""

from __future__ import annotations

import gc
import hashlib
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from oncobase.config import Settings
from oncobase.ingest.fhir.map import (
    TYPE_ORDER,
    MappingError,
    SourceMapper,
    fill_episode_objects,
)
from oncobase.ingest.fhir.read import RawRecord, iter_batches, iter_file
from oncobase.ingest.fhir.validate import MAPPED_TYPES, check_resource
from oncobase.ingest.quarantine import IngestError, Quarantine
from oncobase.ingest.staging import (
    IDENTITY_SCHEMA,
    clinical_dir,
    conform_staged,
    staged_schema,
    write_identity,
    write_load_summary,
)
from oncobase.store import Backend
from oncobase.store.metadata import new_id

_SUFFIXES = (".ndjson", ".jsonl", ".json", ".ndjson.gz", ".jsonl.gz", ".json.gz")
_LOG_FILES = frozenset({"log.ndjson", "log.ndjson.gz"})
_ORDER = {name: index for index, name in enumerate(TYPE_ORDER)}


@dataclass(frozen=True, kw_only=True)
class FhirStageResult:
    """What one FHIR staging run read, accepted, ignored and quarantined, and what it wrote."""

    source: str
    load_id: str
    files: dict[str, str]  # file name → SHA-256
    read: int
    accepted: int
    ignored: int
    quarantined: dict[str, int]  # reason code → count
    accepted_by_type: dict[str, int]
    ignored_by_type: dict[str, int]
    staged: dict[str, int]  # staged table → rows
    identity: int
    unresolved_references: int
    notes: tuple[str, ...]
    seconds: float
    quarantine: Quarantine = field(repr=False)

    @property
    def quarantined_total(self) -> int:
        return sum(self.quarantined.values())

    def summary(self) -> dict[str, Any]:
        """The load metadata (``_load.json``): counts only, never values."""
        return {
            "format": "fhir",
            "source": self.source,
            "load_id": self.load_id,
            "files": self.files,
            "read": self.read,
            "accepted": self.accepted,
            "ignored": self.ignored,
            "quarantined": self.quarantined,
            "accepted_by_type": self.accepted_by_type,
            "ignored_by_type": self.ignored_by_type,
            "staged": self.staged,
            "identity": self.identity,
            "unresolved_references": self.unresolved_references,
            "notes": list(self.notes),
        }


def _type_rank(path: Path) -> int:
    stem = path.name.split(".", 1)[0]
    return _ORDER.get(stem, len(_ORDER))


def list_fhir_files(path: Path) -> list[Path]:
    """The FHIR files of a folder, referenced types first (Patient, Medication, Encounter,
    Condition …), then the others by name; a Bulk Data ``log.ndjson`` is not a FHIR file."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise IngestError(f"{path} does not exist: give a FHIR file or a Bulk Data export folder")
    files = [
        p
        for p in path.iterdir()
        if p.is_file() and p.name.lower().endswith(_SUFFIXES) and p.name.lower() not in _LOG_FILES
    ]
    return sorted(files, key=lambda p: (_type_rank(p), p.name))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


class _Writers:
    """One Parquet writer per staged table, fed batch by batch (memory flat in input size)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.parquet"):
            old.unlink()
        self.folder = folder
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.rows: Counter[str] = Counter()

    def write(self, table: str, data: pa.Table) -> None:
        conformed = conform_staged(table, data)
        writer = self.writers.get(table)
        if writer is None:
            writer = pq.ParquetWriter(self.folder / f"{table}.parquet", staged_schema(table))
            self.writers[table] = writer
        writer.write_table(conformed.cast(staged_schema(table)))
        self.rows[table] += conformed.num_rows

    def close(self) -> dict[str, int]:
        for writer in self.writers.values():
            writer.close()
        return dict(self.rows)


@dataclass(kw_only=True)
class _Run:
    source: str
    mapper: SourceMapper
    quarantine: Quarantine
    seen: set[str] = field(default_factory=set)
    read: int = 0
    accepted: Counter[str] = field(default_factory=Counter)
    ignored: Counter[str] = field(default_factory=Counter)

    def reject(self, record: RawRecord, reason: str) -> None:
        self.quarantine.add(
            file=record.file, location=record.location, reason=reason, raw=record.raw
        )

    def take(self, record: RawRecord) -> None:  # noqa: PLR0911
        self.read += 1
        resource = record.resource
        if record.error is not None or resource is None:
            self.reject(record, record.error or "invalid-json: not a resource")
            return
        reason = check_resource(resource)
        if reason is not None:
            self.reject(record, reason)
            return
        rtype = resource["resourceType"]
        if rtype not in MAPPED_TYPES:
            self.ignored[rtype] += 1
            return
        rid = resource.get("id")
        if not isinstance(rid, str):
            url = record.full_url
            if url is None:
                self.reject(record, f"missing-element: {rtype}.id")
                return
            rid = url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        key = f"{rtype}/{rid}"
        if key in self.seen:
            self.reject(
                record,
                f"duplicate-id: a {rtype} with this id was already read in this source "
                "(the first is kept)",
            )
            return
        rows = self.mapper._rows
        sizes = {table: len(values) for table, values in rows.items()}
        identity = len(self.mapper.identity)
        try:
            self.mapper.map_resource(resource, key=key, full_urls=record.full_urls)
        except MappingError as problem:
            self._undo(sizes, identity)
            self.reject(record, str(problem))
            return
        except (TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
            self._undo(sizes, identity)
            self.reject(
                record,
                f"unmappable: {rtype} has an element of an unexpected shape ({type(exc).__name__})",
            )
            return
        self.seen.add(key)
        self.accepted[rtype] += 1

    def _undo(self, sizes: dict[str, int], identity: int) -> None:
        for table, values in self.mapper._rows.items():
            del values[sizes.get(table, 0) :]
        del self.mapper.identity[identity:]


def _resource_rank(record: RawRecord) -> int:
    resource = record.resource
    if resource is None:
        return len(_ORDER)
    return _ORDER.get(str(resource.get("resourceType")), len(_ORDER))


def _identity_table(source: str, rows: list[tuple[Any, ...]]) -> pa.Table:
    names = (
        "record_id",
        "local_id",
        "nir",
        "last_name",
        "birth_name",
        "first_names",
        "sex",
        "birth_date",
        "birth_place_code",
        "postcode",
        "address_line",
        "commune_code",
    )
    columns: dict[str, Any] = (
        {
            name: pa.array(list(values), pa.string())
            for name, values in zip(names, zip(*rows, strict=True), strict=True)
        }
        if rows
        else {name: pa.array([], pa.string()) for name in names}
    )
    n = len(rows)
    columns["source"] = pa.array([source] * n, pa.string())
    columns["source_kind"] = pa.array(["hospital"] * n, pa.string())
    return pa.table({f.name: columns[f.name] for f in IDENTITY_SCHEMA})


def stage_fhir(
    path: Path,
    *,
    settings: Settings,
    source: str | None = None,
    backend: Backend | None = None,
    batch_size: int = 20_000,
) -> FhirStageResult:
    """Stage one source's FHIR files (see the package docstring).

    With a ``backend`` holding a vocabulary, codes are mapped to concept ids here; without one,
    concept ids are 0 and the source values are kept for the load step to map.
    """
    started = time.perf_counter()
    path = Path(path)
    files = list_fhir_files(path)
    name = source or (path.name if path.is_dir() else path.name.split(".", 1)[0])
    if not name or "/" in name or name.startswith("."):
        raise IngestError(f"{name!r} is not a usable source name; pass source=…")
    notes: list[str] = []
    if path.is_dir() and any(p.name.lower() in _LOG_FILES for p in path.iterdir()):
        notes.append("log.ndjson: Bulk Data export log, not FHIR resources; not read")
    if not files:
        notes.append("no FHIR files (.ndjson, .json, optionally .gz) found")
    quarantine = Quarantine(source=name)
    run = _Run(
        source=name, mapper=SourceMapper(source=name, backend=backend), quarantine=quarantine
    )
    writers = _Writers(clinical_dir(settings, name))
    hashes: dict[str, str] = {}
    # Millions of short-lived dicts: the cyclic collector would walk them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        for file in files:
            label = file.name
            hashes[label] = _sha256(file)
            before = run.read
            for batch in iter_batches(iter_file(file, name=label), size=batch_size):
                batch.sort(key=_resource_rank)
                for record in batch:
                    run.take(record)
                tables = run.mapper.take_tables()
                fill_episode_objects(tables)
                for table, data in tables.items():
                    writers.write(table, data)
            if run.read == before:
                notes.append(f"{label}: empty file, no resources")
    finally:
        if collecting:
            gc.enable()
        staged = writers.close()
    for rtype, count in sorted(run.mapper.undated.items()):
        notes.append(f"{rtype}: {count} record(s) without a date of their own, staged undated")
    identity_rows = run.mapper.take_identity()
    identity = write_identity(settings, name, _identity_table(name, identity_rows))
    unresolved = len(run.mapper.references - run.seen)
    accepted = sum(run.accepted.values())
    ignored = sum(run.ignored.values())
    result = FhirStageResult(
        source=name,
        load_id=new_id(),
        files=hashes,
        read=run.read,
        accepted=accepted,
        ignored=ignored,
        quarantined=quarantine.by_reason(),
        accepted_by_type=dict(sorted(run.accepted.items())),
        ignored_by_type=dict(sorted(run.ignored.items())),
        staged=dict(sorted(staged.items())),
        identity=identity,
        unresolved_references=unresolved,
        notes=tuple(notes),
        seconds=time.perf_counter() - started,
        quarantine=quarantine,
    )
    write_load_summary(settings, name, result.summary())
    return result
