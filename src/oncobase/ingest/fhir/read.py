"""Reading FHIR R4 files: NDJSON (Bulk Data export) and Bundles, plain or gzip, in big blocks.

The readers yield :class:`RawRecord` batches: the raw bytes of each resource with its location
("line 12", "entry 3", "line 4 entry 2"), parsed with orjson, or the reason it could not be
parsed. Nothing here knows about OMOP; nothing is dropped: every non-blank line or entry
becomes one record, parsed or rejected.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import orjson

BLOCK_SIZE = 16 * 1024 * 1024
BATCH_RECORDS = 50_000
_BOM = b"\xef\xbb\xbf"
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, kw_only=True, slots=True)
class RawRecord:
    """One resource as read: parsed (``resource``) or rejected (``error``)."""

    file: str
    location: str
    raw: bytes
    resource: dict[str, Any] | None
    error: str | None = None
    # fullUrl → "Type/id" of the Bundle the record came from (urn:uuid references).
    full_urls: dict[str, str] | None = None
    full_url: str | None = None


def open_binary(path: Path) -> BinaryIO:
    """The file's bytes, gunzipped when it starts with the gzip magic number."""
    handle = path.open("rb")
    head = handle.read(2)
    handle.seek(0)
    if head == _GZIP_MAGIC:
        handle.close()
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return handle


def iter_lines(handle: BinaryIO, *, block_size: int = BLOCK_SIZE) -> Iterator[tuple[int, bytes]]:
    """``(line number, line)`` for every non-blank line, read in blocks of ``block_size``.

    A BOM at the start of the file and a CR before each LF are removed; a line longer than a
    block (a 50 MB resource) is carried over until its end.
    """
    carry = b""
    number = 0
    first = True
    while True:
        block = handle.read(block_size)
        if not block:
            break
        if first:
            if block.startswith(_BOM):
                block = block[len(_BOM) :]
            first = False
        data = carry + block if carry else block
        lines = data.split(b"\n")
        carry = lines.pop()
        for line in lines:
            number += 1
            text = line[:-1] if line.endswith(b"\r") else line
            if text.strip():
                yield number, text
    if carry:
        number += 1
        if carry.endswith(b"\r"):
            carry = carry[:-1]
        if carry.strip():
            yield number, carry


def _damaged(exc: BaseException) -> str:
    name = type(exc).__name__
    return f"bad-encoding: damaged gzip stream ({name}); the rest of the file is unread"


def parse_json(raw: bytes) -> tuple[Any, str | None]:
    """orjson's parse of ``raw``, or ``(None, reason)`` with a reason code and no values."""
    try:
        return orjson.loads(raw), None
    except orjson.JSONDecodeError as exc:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as bad:
            return None, f"bad-encoding: not UTF-8 (byte {bad.start}); re-export the file in UTF-8"
        message = str(exc).split(":", 1)[0]
        return None, f"invalid-json: {message}"


def _bundle_records(bundle: dict[str, Any], *, file: str, prefix: str) -> Iterator[RawRecord]:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        return
    full_urls: dict[str, str] = {}
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        resource = entry.get("resource")
        url = entry.get("fullUrl")
        if isinstance(resource, dict) and isinstance(url, str):
            rtype, rid = resource.get("resourceType"), resource.get("id")
            if isinstance(rtype, str):
                if not isinstance(rid, str):
                    rid = url.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
                full_urls[url] = f"{rtype}/{rid}"
    for index, entry in enumerate(entries, start=1):
        location = f"{prefix}entry {index}"
        resource = entry.get("resource") if isinstance(entry, dict) else None
        url = entry.get("fullUrl") if isinstance(entry, dict) else None
        raw = orjson.dumps(entry)
        if not isinstance(resource, dict):
            yield RawRecord(
                file=file,
                location=location,
                raw=raw,
                resource=None,
                error="missing-element: Bundle.entry.resource",
            )
            continue
        yield RawRecord(
            file=file,
            location=location,
            raw=orjson.dumps(resource),
            resource=resource,
            full_urls=full_urls,
            full_url=url if isinstance(url, str) else None,
        )


def _expand(parsed: Any, *, file: str, location: str, raw: bytes) -> Iterator[RawRecord]:
    if isinstance(parsed, dict) and parsed.get("resourceType") == "Bundle":
        prefix = f"{location} " if location else ""
        yield from _bundle_records(parsed, file=file, prefix=prefix)
        return
    if not isinstance(parsed, dict):
        yield RawRecord(
            file=file,
            location=location or "file",
            raw=raw,
            resource=None,
            error="invalid-json: a FHIR resource must be a JSON object",
        )
        return
    yield RawRecord(file=file, location=location or "file", raw=raw, resource=parsed)


def iter_ndjson(path: Path, *, name: str | None = None) -> Iterator[RawRecord]:
    """Every line of an NDJSON file (a Bundle on a line is expanded into its entries)."""
    file = name or path.name
    with open_binary(path) as handle:
        try:
            for number, line in iter_lines(handle):
                parsed, error = parse_json(line)
                location = f"line {number}"
                if error is not None:
                    yield RawRecord(
                        file=file, location=location, raw=line, resource=None, error=error
                    )
                    continue
                yield from _expand(parsed, file=file, location=location, raw=line)
        except (EOFError, OSError, zlib.error) as exc:
            yield RawRecord(file=file, location="file", raw=b"", resource=None, error=_damaged(exc))


def iter_json(path: Path, *, name: str | None = None) -> Iterator[RawRecord]:
    """A ``.json`` file: one Bundle (its entries) or one resource."""
    file = name or path.name
    with open_binary(path) as handle:
        try:
            data = handle.read()
        except (EOFError, OSError, zlib.error) as exc:
            yield RawRecord(file=file, location="file", raw=b"", resource=None, error=_damaged(exc))
            return
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
    if not data.strip():
        return
    parsed, error = parse_json(data)
    if error is not None:
        yield RawRecord(file=file, location="file", raw=data, resource=None, error=error)
        return
    yield from _expand(parsed, file=file, location="", raw=data)


def is_ndjson(path: Path) -> bool:
    name = path.name.lower().removesuffix(".gz")
    return name.endswith((".ndjson", ".jsonl"))


def iter_file(path: Path, *, name: str | None = None) -> Iterator[RawRecord]:
    """The records of one FHIR file, whatever its kind (by extension, gzip sniffed)."""
    if is_ndjson(path):
        yield from iter_ndjson(path, name=name)
    else:
        yield from iter_json(path, name=name)


def iter_batches(
    records: Iterator[RawRecord], *, size: int = BATCH_RECORDS
) -> Iterator[list[RawRecord]]:
    """Records grouped in lists of at most ``size``."""
    batch: list[RawRecord] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
