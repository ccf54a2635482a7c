"""Who may record a patient's objection to research reuse, and for whom.

A patient records (or withdraws) their own objection in the patient space; a clinician
records one on behalf of a patient whose record exists in the store (and so does an operator,
role ``admin``, from a written objection, with ``oncobase share optout``). Both are audited
(``share.optout.record``, ``share.optout.withdraw``); the objection itself is kept by
:mod:`oncobase.share.optout` and takes effect at the next extract or cohort build.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oncobase.share.optout import record_optout, withdraw_optout
from oncobase.share.requests import AccessError, Actor, ShareContext, known_id
from oncobase.store import Backend
from oncobase.store.operational import OptOut

PATIENT_ROLE = "patient"
CLINICIAN_ROLE = "clinician"
ADMIN_ROLE = "admin"  # an operator recording a written objection (``oncobase share optout``)


@dataclass(frozen=True, kw_only=True)
class ObjectionStatus:
    person_id: int
    active: bool
    recorded_at: datetime | None = None
    channel: str | None = None
    effective_at: datetime | None = None


def objection_status(factory: sessionmaker[Session], person_id: int) -> ObjectionStatus:
    """Whether a person objects now, since when and through which channel."""
    with factory() as session:
        row = session.scalars(
            select(OptOut)
            .where(OptOut.person_id == person_id, OptOut.withdrawn_at.is_(None))
            .order_by(OptOut.optout_id)
        ).first()
    if row is None:
        return ObjectionStatus(person_id=person_id, active=False)
    return ObjectionStatus(
        person_id=person_id,
        active=True,
        recorded_at=row.recorded_at,
        channel=row.channel,
        effective_at=row.effective_at,
    )


def person_exists(backend: Backend, person_id: int) -> bool:
    """Whether the store has this person (a clinician can see every record of the store)."""
    if not known_id(person_id):
        return False
    return bool(backend.scalar("SELECT count(*) FROM person WHERE person_id = $1", (person_id,)))


def _person_for(actor: Actor, person_id: int | None, backend: Backend | None) -> int:
    if actor.role == PATIENT_ROLE:
        if actor.person_id is None:
            raise AccessError("no record is linked to this account", kind="not_found")
        if person_id is not None and person_id != actor.person_id:
            raise AccessError(
                "a patient records an objection for themselves only", kind="forbidden"
            )
        return actor.person_id
    if actor.role in (CLINICIAN_ROLE, ADMIN_ROLE):
        if person_id is None or person_id <= 0:
            raise AccessError("give the person id of the patient who objects")
        if not known_id(person_id):
            raise AccessError(f"no person {person_id} in the store", kind="not_found")
        if backend is None or not person_exists(backend, person_id):
            raise AccessError(f"no person {person_id} in the store", kind="not_found")
        return person_id
    raise AccessError("only the patient or a clinician records an objection", kind="forbidden")


def _channel(actor: Actor) -> str:
    """The patient themselves, a clinician, or staff (an administrator or operator entering a
    written objection)."""
    if actor.role in (PATIENT_ROLE, CLINICIAN_ROLE):
        return actor.role
    return "staff"


def record_objection(
    ctx: ShareContext, actor: Actor, person_id: int | None = None, *, backend: Backend | None
) -> ObjectionStatus:
    """Record an objection (patient: their own; clinician: a patient of the store), audited."""
    pid = _person_for(actor, person_id, backend)
    channel = _channel(actor)
    optout = record_optout(ctx.factory, pid, by=actor.username, channel=channel)
    ctx.audit(
        actor,
        "share.optout.record",
        target=f"person:{pid}",
        detail={"channel": channel, "optout_id": optout.optout_id},
    )
    return objection_status(ctx.factory, pid)


def withdraw_objection(
    ctx: ShareContext, actor: Actor, person_id: int | None = None, *, backend: Backend | None
) -> ObjectionStatus:
    """Withdraw an active objection (same rules as :func:`record_objection`), audited."""
    pid = _person_for(actor, person_id, backend)
    if not objection_status(ctx.factory, pid).active:
        raise AccessError(f"person {pid} has no objection to withdraw", kind="conflict")
    withdraw_optout(ctx.factory, pid, by=actor.username)
    ctx.audit(actor, "share.optout.withdraw", target=f"person:{pid}", detail={})
    return objection_status(ctx.factory, pid)
