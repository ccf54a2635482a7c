"""Bulk loading: Arrow table → OMOP table, checked against the spec column at a time."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from oncobase.errors import BulkLoadError
from oncobase.logging import get_logger
from oncobase.store.backend import Backend
from oncobase.store.metadata import LoadRecord, finish_load, record_load
from oncobase.store.spec import ColumnSpec, TableSpec, table_spec

log = get_logger(__name__)


@dataclass(frozen=True, kw_only=True)
class LoadResult:
    """The outcome of one bulk load."""

    load_id: str
    table: str
    rows_accepted: int
    rows_quarantined: int
    seconds: float


def _first_index(mask: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.index(mask, True).as_py())


def _cast_column(column: pa.ChunkedArray, spec: ColumnSpec, table: str) -> pa.ChunkedArray:
    target = spec.arrow_type
    if column.type == target:
        return column
    if pa.types.is_null(column.type):
        return pa.chunked_array([pa.nulls(len(column), target)], type=target)
    try:
        return pc.cast(column, target, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Arrow's own message quotes the offending value, which may be an identifier.
        raise BulkLoadError(
            f"Column {table}.{spec.name} is {column.type} and cannot be converted to "
            f"{spec.datatype} ({target}): some values are not valid {spec.type_class} values"
        ) from None


def conform_to_spec(data: pa.Table, spec: TableSpec) -> pa.Table:
    """Cast ``data`` to the table's Arrow schema, or raise BulkLoadError saying what is wrong.

    Columns may come in any order and optional ones may be absent. Checks: no unknown column,
    every required column present with no null, text within its declared length.
    Messages name columns and row numbers, never values (they may be identifiers).
    """
    known = set(spec.column_names)
    unknown = [c for c in data.column_names if c not in known]
    if unknown:
        raise BulkLoadError(
            f"{spec.name} has no column(s) {', '.join(sorted(unknown))}; "
            f"expected some of: {', '.join(spec.column_names)}"
        )
    missing = [c.name for c in spec.columns if c.required and c.name not in data.column_names]
    if missing:
        raise BulkLoadError(f"{spec.name} needs column(s) {', '.join(missing)} (required by OMOP)")
    arrays = []
    fields = []
    for name in data.column_names:
        col_spec = spec.column(name)
        column = _cast_column(data.column(name), col_spec, spec.name)
        if col_spec.required and column.null_count:
            row = _first_index(pc.is_null(column))
            raise BulkLoadError(
                f"{spec.name}.{name} is required but {column.null_count} row(s) are null "
                f"(first at row {row})"
            )
        length = col_spec.max_length
        if length is not None and len(column):
            too_long = pc.greater(pc.utf8_length(column), length)
            if pc.any(too_long).as_py():
                raise BulkLoadError(
                    f"{spec.name}.{name} is {col_spec.datatype} but "
                    f"{pc.sum(too_long).as_py()} value(s) are longer "
                    f"(first at row {_first_index(pc.fill_null(too_long, False))})"
                )
        arrays.append(column)
        fields.append(pa.field(name, col_spec.arrow_type, nullable=not col_spec.required))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def bulk_load(
    backend: Backend,
    table: str,
    data: pa.Table,
    *,
    step: str,
    source: str,
    input_hash: str | None = None,
    run_id: str | None = None,
    rows_read: int | None = None,
    rows_quarantined: int = 0,
) -> LoadResult:
    """Append ``data`` to ``table`` with the engine's bulk path and record the load.

    A load that fails is recorded with status ``failed`` and its reason, and nothing of it is
    kept (the append is a single statement). ``rows_read`` defaults to accepted + quarantined.
    """
    try:
        spec = table_spec(table)
    except KeyError as exc:
        raise BulkLoadError(str(exc.args[0])) from None
    record = record_load(
        backend,
        LoadRecord(
            step=step,
            source=source,
            target_table=table,
            input_hash=input_hash,
            run_id=run_id,
            rows_read=rows_read if rows_read is not None else data.num_rows + rows_quarantined,
            rows_quarantined=rows_quarantined,
        ),
    )
    try:
        conformed = conform_to_spec(data, spec)
        backend.append_arrow(table, conformed)
    except BulkLoadError as exc:
        finish_load(backend, record, status="failed", message=str(exc))
        raise
    except Exception as exc:
        message = f"{backend.engine} refused the load into {table}: {str(exc).splitlines()[0]}"
        finish_load(backend, record, status="failed", message=message)
        raise BulkLoadError(message) from exc
    record.rows_accepted = conformed.num_rows
    finish_load(backend, record, status="success")
    assert record.ended_at is not None
    seconds = (record.ended_at - record.started_at).total_seconds()
    log.debug("loaded %d rows into %s in %.2fs", conformed.num_rows, table, seconds)
    return LoadResult(
        load_id=record.load_id,
        table=table,
        rows_accepted=conformed.num_rows,
        rows_quarantined=rows_quarantined,
        seconds=seconds,
    )
