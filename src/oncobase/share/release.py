"""Release requests: a researcher's own aggregate results asking to leave the platform.

The researcher (on a valid permit's team) submits a count table; it goes through disclosure
control first (:func:`~oncobase.share.disclosure.suppress_table`: small cells and enough
others suppressed), and what is stored and shown to the data steward is the suppressed table
only. The steward approves or rejects it (never their own); an approved table can then be
downloaded as CSV by the permit's team. Every step is audited and notified.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from oncobase.share.disclosure import MIN_CELL, suppress_table
from oncobase.share.notify import steward_usernames
from oncobase.share.requests import (
    AccessError,
    Actor,
    ShareContext,
    get_permit,
    get_row,
    loads_object,
    now_utc,
    permit_is_valid,
    permit_view,
    require_steward,
    with_comment,
)
from oncobase.store.operational import Permit, ReleaseRequest

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
MAX_ROWS = 500
MAX_COLUMNS = 50


@dataclass(frozen=True, kw_only=True)
class CountTable:
    """A researcher's count table: row labels × column labels."""

    rows: tuple[str, ...]
    columns: tuple[str, ...]
    cells: tuple[tuple[int, ...], ...]


@dataclass(frozen=True, kw_only=True)
class ReleaseView:
    release_id: int
    permit_id: int
    requested_by: str
    at: datetime
    title: str
    status: str
    reviewed_by: str | None
    decided_at: datetime | None
    comment: str
    table: dict[str, object]  # rows, columns, cells (None = suppressed), totals, suppressed

    def to_csv(self) -> str:
        """The released table as CSV ("<MIN" marks a suppressed value)."""
        mark = f"<{self.table.get('min_cell', MIN_CELL)}"
        out = io.StringIO()
        writer = csv.writer(out)
        columns = [str(c) for c in _list(self.table.get("columns"))]
        writer.writerow(["", *columns, "Total"])
        cells = _list(self.table.get("cells"))
        row_totals = _list(self.table.get("row_totals"))
        for label, row, total in zip(_list(self.table.get("rows")), cells, row_totals, strict=True):
            writer.writerow(
                [
                    label,
                    *(mark if v is None else v for v in _list(row)),
                    mark if total is None else total,
                ]
            )
        total = self.table.get("total")
        writer.writerow(
            [
                "Total",
                *(mark if v is None else v for v in _list(self.table.get("column_totals"))),
                mark if total is None else total,
            ]
        )
        return out.getvalue()


def _list(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def parse_count_csv(text: str) -> CountTable:
    """A count table from CSV: a header (corner, column labels…), then one row per label.

    A one-column table may have a header of two cells. AccessError names the bad line.
    """
    lines = [row for row in csv.reader(io.StringIO(text.strip())) if any(c.strip() for c in row)]
    if len(lines) < 2:
        raise AccessError("a table needs a header line and at least one row of counts")
    header = [c.strip() for c in lines[0]]
    columns = tuple(header[1:])
    if not columns or any(not c for c in columns):
        raise AccessError("line 1: name every column of the header (first cell: row title)")
    rows: list[str] = []
    cells: list[tuple[int, ...]] = []
    for number, line in enumerate(lines[1:], start=2):
        values = [c.strip() for c in line]
        if len(values) != len(columns) + 1:
            raise AccessError(
                f"line {number}: {len(values) - 1} count(s) for {len(columns)} column(s)"
            )
        try:
            counts = tuple(int(v) for v in values[1:])
        except ValueError:
            raise AccessError(f"line {number}: counts are whole numbers") from None
        rows.append(values[0] or f"row {number - 1}")
        cells.append(counts)
    return CountTable(rows=tuple(rows), columns=columns, cells=tuple(cells))


def _checked(table: CountTable) -> CountTable:
    if not table.rows or not table.columns:
        raise AccessError("a table has at least one row and one column")
    if len(table.rows) > MAX_ROWS or len(table.columns) > MAX_COLUMNS:
        raise AccessError(f"a table has at most {MAX_ROWS} rows and {MAX_COLUMNS} columns")
    if len(table.cells) != len(table.rows) or any(
        len(r) != len(table.columns) for r in table.cells
    ):
        raise AccessError("the cells must have one row per row label and one value per column")
    if len(set(table.rows)) != len(table.rows) or len(set(table.columns)) != len(table.columns):
        raise AccessError("row labels and column labels must be distinct")
    return table


def _view(row: ReleaseRequest) -> ReleaseView:
    return ReleaseView(
        release_id=row.release_id,
        permit_id=row.permit_id,
        requested_by=row.requested_by,
        at=row.at,
        title=row.title,
        status=row.status,
        reviewed_by=row.reviewed_by,
        decided_at=row.decided_at,
        comment=row.comment,
        table=loads_object(row.table_json),
    )


def submit_release(
    ctx: ShareContext, actor: Actor, permit_id: int, *, title: str, table: CountTable
) -> ReleaseView:
    """Submit a result table of a valid permit's team: suppressed first, then to review."""
    permit = get_permit(ctx.factory, actor, permit_id)
    if actor.username not in permit.team:
        raise AccessError("only the permit's team asks to release its results", kind="forbidden")
    if not permit_is_valid(permit):
        raise AccessError(
            f"permit {permit_id} is no longer valid: results can no longer be released under it",
            kind="expired",
        )
    name = title.strip()
    if not name or len(name) > 200:
        raise AccessError("a release has a title of 1 to 200 characters")
    clean = _checked(table)
    try:
        suppressed = suppress_table([list(r) for r in clean.cells], min_cell=MIN_CELL)
    except ValueError as exc:
        raise AccessError(str(exc)) from None
    published = {
        "rows": list(clean.rows),
        "columns": list(clean.columns),
        "cells": suppressed.cells,
        "row_totals": suppressed.row_totals,
        "column_totals": suppressed.column_totals,
        "total": suppressed.total,
        "suppressed": suppressed.suppressed_cells,
        "min_cell": MIN_CELL,
    }
    with ctx.factory.begin() as session:
        row = ReleaseRequest(
            permit_id=permit_id,
            requested_by=actor.username,
            at=now_utc(),
            title=name,
            table_json=json.dumps(published),
            status=PENDING,
            reviewed_by=None,
            decided_at=None,
            comment="",
        )
        session.add(row)
        session.flush()
        view = _view(row)
    ctx.audit(
        actor,
        "share.release.submit",
        target=f"release:{view.release_id}",
        detail={
            "permit_id": permit_id,
            "rows": len(clean.rows),
            "columns": len(clean.columns),
            "suppressed_cells": suppressed.suppressed_cells,
        },
    )
    ctx.notify(
        steward_usernames(ctx.factory),
        subject=f"OncoBase: release request {view.release_id} to review",
        body=f"{actor.username} asks to release results of permit {permit_id} ({name}); "
        f"{suppressed.suppressed_cells} cell(s) were suppressed by disclosure control.",
    )
    return view


def decide_release(
    ctx: ShareContext, actor: Actor, release_id: int, *, approve: bool, comment: str = ""
) -> ReleaseView:
    """A steward approves or rejects (with a comment) a pending release, never their own."""
    require_steward(actor)
    note = comment.strip()
    if not approve and not note:
        raise AccessError("write a comment that tells the researcher why")
    with ctx.factory.begin() as session:
        row = _load_release(session, release_id)
        if row.requested_by == actor.username:
            raise AccessError("nobody reviews their own release", kind="forbidden")
        if row.status != PENDING:
            raise AccessError(
                f"release request {release_id} is already {row.status}", kind="conflict"
            )
        claimed = session.execute(
            update(ReleaseRequest)
            .where(ReleaseRequest.release_id == release_id, ReleaseRequest.status == PENDING)
            .values(status=APPROVED if approve else REJECTED)
            .execution_options(synchronize_session=False)
        )
        if getattr(claimed, "rowcount", 0) != 1:
            raise AccessError(
                f"release request {release_id} changed meanwhile; reload it", kind="conflict"
            )
        row.status = APPROVED if approve else REJECTED
        row.reviewed_by, row.decided_at, row.comment = actor.username, now_utc(), note
        session.flush()
        view = _view(row)
    ctx.audit(
        actor,
        f"share.release.{view.status}",
        target=f"release:{release_id}",
        detail={"permit_id": view.permit_id},
    )
    ctx.notify(
        [view.requested_by],
        subject=f"OncoBase: release request {release_id} {view.status}",
        body=with_comment(
            f"{actor.username} {view.status} release request {release_id} ({view.title}).", note
        ),
    )
    return view


def _load_release(session: Session, release_id: int) -> ReleaseRequest:
    return get_row(session, ReleaseRequest, release_id, "release request")


def _require_release_role(actor: Actor) -> None:
    if actor.role not in {"admin", "data_steward", "researcher"}:
        raise AccessError("your role may not see release requests", kind="forbidden")


def _can_see(session: Session, actor: Actor, row: ReleaseRequest) -> bool:
    if actor.is_steward or actor.username == row.requested_by:
        return True
    permit = session.get(Permit, row.permit_id)
    return permit is not None and actor.username in permit_view(permit).team


def list_releases(
    factory: sessionmaker[Session], actor: Actor, *, status: str | None = None
) -> list[ReleaseView]:
    """The release requests the actor may see (their teams'; all for stewards), newest first."""
    _require_release_role(actor)
    query = select(ReleaseRequest).order_by(ReleaseRequest.release_id.desc())
    if status:
        query = query.where(ReleaseRequest.status == status)
    with factory() as session:
        return [_view(r) for r in session.scalars(query) if _can_see(session, actor, r)]


def get_release(factory: sessionmaker[Session], actor: Actor, release_id: int) -> ReleaseView:
    _require_release_role(actor)
    with factory() as session:
        row = _load_release(session, release_id)
        if not _can_see(session, actor, row):
            raise AccessError(f"release request {release_id} is not yours", kind="forbidden")
        return _view(row)


def released_csv(ctx: ShareContext, actor: Actor, release_id: int) -> str:
    """The CSV of an approved release (audited); AccessError before approval."""
    view = get_release(ctx.factory, actor, release_id)
    if view.status != APPROVED:
        raise AccessError(
            f"release request {release_id} is {view.status}, not approved", kind="conflict"
        )
    ctx.audit(
        actor,
        "share.release.download",
        target=f"release:{release_id}",
        detail={"permit_id": view.permit_id},
    )
    return view.to_csv()


def rows_of(tables: Sequence[ReleaseView]) -> list[dict[str, object]]:
    """Plain rows (for the CLI and CSV lists)."""
    return [
        {
            "release_id": t.release_id,
            "permit_id": t.permit_id,
            "title": t.title,
            "status": t.status,
            "requested_by": t.requested_by,
            "at": t.at.isoformat(),
        }
        for t in tables
    ]
