"""Extracts built from a permit, and their downloads by the permit's team.

An extract is built only from a valid permit (its cohort, its exact variables, its date
precision), after the patients' opt-outs are applied, into
``<home>/share/extracts/<project_id>/<extract_id>/``; an
:class:`~oncobase.store.operational.ExtractRecord` row records it. Only a member of the
permit's team downloads it, and only until the permit expires or is revoked; every download,
and every refusal, is an audit entry.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oncobase.share.extract import PermitSpec, build_extract
from oncobase.share.optout import apply_optouts
from oncobase.share.requests import (
    AccessError,
    Actor,
    PermitView,
    ShareContext,
    get_permit,
    known_id,
    loads_object,
    now_utc,
    permit_is_valid,
    permit_view,
)
from oncobase.store import Backend
from oncobase.store.operational import ExtractRecord, Permit


@dataclass(frozen=True, kw_only=True)
class ExtractView:
    extract_id: int
    permit_id: int
    built_at: datetime
    persons: int
    rows: int
    k_min: int
    report: dict[str, object]


@dataclass(frozen=True, kw_only=True)
class Download:
    """What a permitted download sends: the archive and the name it is saved under."""

    path: Path
    filename: str
    extract_id: int
    permit_id: int


def extracts_root(home: Path) -> Path:
    """Where the extracts live: ``<home>/share/extracts``."""
    return home / "share" / "extracts"


def _view(row: ExtractRecord) -> ExtractView:
    return ExtractView(
        extract_id=row.extract_id,
        permit_id=row.permit_id,
        built_at=row.built_at,
        persons=row.persons,
        rows=row.rows,
        k_min=row.k_min,
        report=loads_object(row.report),
    )


def list_extracts(
    factory: sessionmaker[Session], actor: Actor, permit_id: int
) -> list[ExtractView]:
    """The extracts of a permit (its team and the stewards), newest first."""
    get_permit(factory, actor, permit_id)  # not_found / forbidden
    with factory() as session:
        rows = session.scalars(
            select(ExtractRecord)
            .where(ExtractRecord.permit_id == permit_id, ExtractRecord.folder != "")
            .order_by(ExtractRecord.extract_id.desc())
        )
        return [_view(r) for r in rows]


def build_permit_extract(
    ctx: ShareContext,
    actor: Actor,
    permit_id: int,
    *,
    backend: Backend,
    home: Path,
    pseudonym_key: bytes,
) -> ExtractView:
    """Build an extract of a valid permit (its team or a steward), opt-outs excluded."""
    permit = get_permit(ctx.factory, actor, permit_id)
    if not permit_is_valid(permit):
        ctx.audit(
            actor,
            "share.extract.refused",
            target=f"permit:{permit_id}",
            detail={"reason": _invalid_reason(permit)},
        )
        raise AccessError(_invalid_message(permit), kind="expired")
    excluded = apply_optouts(ctx.factory, ctx.audit_key, applied_by=actor.username)
    with ctx.factory.begin() as session:
        record = ExtractRecord(
            permit_id=permit_id,
            built_at=now_utc(),
            folder="",
            persons=0,
            rows=0,
            k_min=0,
            report="{}",
        )
        session.add(record)
        session.flush()
        extract_id = record.extract_id
    out_dir = extracts_root(home) / permit.project_id / str(extract_id)
    spec = PermitSpec(
        permit_id=permit.permit_id,
        project_id=permit.project_id,
        cohort=permit.cohort,
        variables=permit.variables,
        date_precision=permit.date_precision,
    )
    try:
        result = build_extract(
            backend,
            spec,
            out_dir=out_dir,
            pseudonym_key=pseudonym_key,
            excluded_person_ids=excluded,
        )
    except BaseException:
        with ctx.factory.begin() as session:
            failed = session.get(ExtractRecord, extract_id)
            if failed is not None:
                session.delete(failed)
        shutil.rmtree(out_dir, ignore_errors=True)
        raise
    with ctx.factory.begin() as session:
        done = session.get(ExtractRecord, extract_id)
        assert done is not None
        done.folder = str(result.folder)
        done.persons, done.rows, done.k_min = result.persons, result.rows, result.k_min
        done.report = json.dumps(result.report, default=str, sort_keys=True)
        view = _view(done)
    ctx.audit(
        actor,
        "share.extract.build",
        target=f"permit:{permit_id}",
        detail={
            "extract_id": extract_id,
            "persons": view.persons,
            "rows": view.rows,
            "k_min": view.k_min,
            "excluded_optouts": len(excluded),
            "variables": list(permit.variables),
        },
    )
    ctx.notify(
        list(permit.team),
        subject=f"OncoBase: extract {extract_id} of permit {permit_id} is ready",
        body=f"{actor.username} built extract {extract_id} of permit {permit_id} "
        f"({view.persons} persons, {view.rows} rows). Your team can download it until "
        f"{permit.expires_at:%Y-%m-%d %H:%M} UTC.",
    )
    return view


def _invalid_reason(permit: PermitView | Permit) -> str:
    return "revoked" if permit.revoked else "expired"


def _invalid_message(permit: PermitView | Permit) -> str:
    if permit.revoked:
        return f"permit {permit.permit_id} was revoked: its extracts can no longer be used"
    return (
        f"permit {permit.permit_id} expired on {permit.expires_at:%Y-%m-%d %H:%M} UTC: its "
        "extracts can no longer be downloaded; ask the data steward for a new permit"
    )


def archive_of(folder: Path) -> Path | None:
    """The zip archive of an extract folder (inside it, or beside it as ``<folder>.zip``)."""
    inside = sorted(folder.glob("*.zip")) if folder.is_dir() else []
    if inside:
        return inside[0]
    beside = folder.with_name(folder.name + ".zip")
    return beside if beside.is_file() else None


def record_download(ctx: ShareContext, actor: Actor, extract_id: int) -> Download:
    """Check and audit one download: only the permit's team, only while the permit is valid.

    Every refusal is audited too (``share.download.refused`` with the reason).
    """
    with ctx.factory() as session:
        record = session.get(ExtractRecord, extract_id) if known_id(extract_id) else None
        permit = session.get(Permit, record.permit_id) if record is not None else None
    if record is None or permit is None or not record.folder:
        raise AccessError(f"no extract {extract_id}", kind="not_found")
    view = permit_view(permit)
    target = f"extract:{extract_id}"

    def refused(reason: str, message: str, *, kind: str, **detail: object) -> AccessError:
        ctx.audit(
            actor,
            "share.download.refused",
            target=target,
            detail={"permit_id": view.permit_id, "reason": reason, **detail},
        )
        return AccessError(message, kind=kind)

    if actor.username not in view.team:
        raise refused(
            "not on the team",
            f"extract {extract_id} belongs to the team of permit {view.permit_id}; only its "
            "members download it",
            kind="forbidden",
        )
    if not permit_is_valid(view):
        raise refused(
            _invalid_reason(view),
            _invalid_message(view),
            kind="expired",
            expires_at=view.expires_at.isoformat(),
        )
    archive = archive_of(Path(record.folder))
    if archive is None:
        raise refused(
            "archive missing",
            f"the files of extract {extract_id} are missing; build a new extract",
            kind="not_found",
        )
    ctx.audit(
        actor,
        "share.download",
        target=target,
        detail={
            "permit_id": view.permit_id,
            "project_id": view.project_id,
            "persons": record.persons,
            "bytes": archive.stat().st_size,
        },
    )
    return Download(
        path=archive,
        filename=f"{view.project_id}_extract_{extract_id}.zip",
        extract_id=extract_id,
        permit_id=view.permit_id,
    )
