"""Identity files for standalone use: read a CSV robustly, write clusters, read truth.

Problems are counted, never echoed: a message names a count and a reason, not a value.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oncobase.linkage.errors import LinkageError
from oncobase.linkage.normalise import INPUT_COLUMNS


@dataclass(kw_only=True)
class FileReport:
    """What reading a file found wrong (counts per reason)."""

    rows: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    warnings: dict[str, int] = field(default_factory=dict)

    def add(self, bucket: dict[str, int], reason: str, n: int = 1) -> None:
        if n:
            bucket[reason] = bucket.get(reason, 0) + n


def _decode(data: bytes, encoding: str | None, report: FileReport) -> str:
    if encoding:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise LinkageError(
                f"The file cannot be decoded as {encoding}; try --encoding latin-1"
            ) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("utf-8-sig", errors="replace")
        bad_lines = sum(1 for line in text.splitlines() if "\ufffd" in line)
        report.add(report.warnings, "rows with bytes that are not UTF-8 (replaced)", bad_lines)
        return text


def read_identity_csv(
    path: Path, *, encoding: str | None = None, columns: tuple[str, ...] = INPUT_COLUMNS
) -> tuple[pa.Table, FileReport]:
    """Read an identity CSV (all columns as text; empty = unknown)."""
    report = FileReport()
    if not path.exists():
        raise LinkageError(f"Input file {path} not found")
    text = _decode(path.read_bytes(), encoding, report)
    if not text.strip():
        raise LinkageError(f"Input file {path.name} is empty")
    malformed = 0

    def on_invalid(row: object) -> str:
        nonlocal malformed
        malformed += 1
        return "skip"

    try:
        names = pacsv.read_csv(
            io.BytesIO(text.encode()),
            read_options=pacsv.ReadOptions(skip_rows_after_names=10**9),
        ).column_names
        table = pacsv.read_csv(
            io.BytesIO(text.encode()),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                strings_can_be_null=True,
                null_values=[""],
            ),
        )
    except pa.ArrowInvalid:
        raise LinkageError(
            f"{path.name} is not a readable CSV file (comma-separated, header line first)"
        ) from None
    report.add(report.skipped, "rows with a wrong number of fields", malformed)
    missing = [c for c in columns if c not in table.column_names]
    if missing:
        raise LinkageError(
            f"{path.name} lacks the column(s) {', '.join(missing)}; expected: {', '.join(columns)}"
        )
    no_id = pc.is_null(table["record_id"])
    n_no_id = int(pc.sum(no_id).as_py() or 0)
    if n_no_id:
        table = table.filter(pc.invert(no_id))
        report.add(report.skipped, "rows without a record_id", n_no_id)
    duplicated = table.num_rows - int(pc.count_distinct(table["record_id"]).as_py())
    if duplicated:
        raise LinkageError(
            f"{path.name}: {duplicated} record_id value(s) appear more than once; "
            "record_id must be unique"
        )
    report.rows = table.num_rows
    return table, report


def write_clusters(path: Path, record_ids: pa.ChunkedArray, clusters: pa.Array) -> None:
    """``record_id, cluster_id`` (cluster ids 1, 2 … in order of first appearance)."""
    raw = pa.chunked_array([clusters]) if isinstance(clusters, pa.Array) else clusters
    unique = pc.unique(raw)
    dense = pc.add(pc.index_in(raw, value_set=unique), 1)
    table = pa.table({"record_id": record_ids, "cluster_id": dense.cast(pa.int64())})
    try:
        pacsv.write_csv(table, path)
    except OSError as exc:
        raise LinkageError(f"Cannot write {path}: {exc.strerror}") from None


def read_table_csv(path: Path, columns: tuple[str, ...]) -> pa.Table:
    """A small CSV with the given columns, as text (truth and cluster files)."""
    table, _ = read_identity_csv(path, columns=columns)
    return table
