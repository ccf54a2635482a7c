"""Patients' objections to research reuse (opt-outs), kept in the operational store.

An opt-out is recorded by the patient (patient space) or by a clinician on their behalf. It
takes effect at the next extract or cohort build: :func:`apply_optouts` returns the persons to
exclude and, the first time an opt-out is applied, stamps ``effective_at`` and appends one
``optout.effective`` audit entry saying when it took effect (and how long after it was
recorded). A withdrawn opt-out no longer excludes the person from the next build on.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from oncobase.config import Settings
from oncobase.share.errors import ShareError
from oncobase.store.audit import append_audit, audit_key
from oncobase.store.operational import OptOut, engine_of, open_operational

# Who recorded the objection: the patient (their space), a clinician (the care team), or
# staff (an operator entering a written objection, e.g. with `oncobase share optout`).
CHANNELS: tuple[str, ...] = ("patient", "clinician", "staff")


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _check_person(person_id: int) -> int:
    if isinstance(person_id, bool) or not isinstance(person_id, int) or person_id <= 0:
        raise ShareError(f"an opt-out needs a positive person id, got {person_id!r}")
    return person_id


def record_optout(
    factory: sessionmaker[Session], person_id: int, *, by: str, channel: str
) -> OptOut:
    """Record a person's objection (idempotent: an active opt-out is returned unchanged)."""
    _check_person(person_id)
    if channel not in CHANNELS:
        raise ShareError(f"unknown opt-out channel {channel!r}; use one of {', '.join(CHANNELS)}")
    if not by:
        raise ShareError("an opt-out must name who recorded it")
    with factory.begin() as session:
        active = session.scalars(
            select(OptOut).where(OptOut.person_id == person_id, OptOut.withdrawn_at.is_(None))
        ).first()
        if active is not None:
            return active
        optout = OptOut(
            person_id=person_id, recorded_at=_now(), recorded_by=by[:100], channel=channel
        )
        session.add(optout)
        session.flush()
        return optout


def withdraw_optout(factory: sessionmaker[Session], person_id: int, *, by: str) -> None:
    """Withdraw a person's active opt-out (they are included again from the next build on).

    ``by`` names who withdrew it; the operational table has no column for it, so the caller
    (web edge) audits the withdrawal with its own context.
    """
    _check_person(person_id)
    if not by:
        raise ShareError("a withdrawal must name who asked for it")
    with factory.begin() as session:
        active = list(
            session.scalars(
                select(OptOut).where(OptOut.person_id == person_id, OptOut.withdrawn_at.is_(None))
            )
        )
        if not active:
            raise ShareError(f"person {person_id} has no active opt-out to withdraw")
        now = _now()
        for optout in active:
            optout.withdrawn_at = now


def active_optouts(factory: sessionmaker[Session]) -> list[int]:
    """The person ids objecting now (sorted, distinct)."""
    with factory() as session:
        ids = session.scalars(
            select(OptOut.person_id).where(OptOut.withdrawn_at.is_(None)).distinct()
        )
        return sorted(int(i) for i in ids)


def apply_optouts(
    factory: sessionmaker[Session], audit_key: bytes, *, applied_by: str
) -> list[int]:
    """The person ids to exclude now; the first application of each opt-out is audited.

    Each newly effective opt-out gets ``effective_at`` (now) and one ``optout.effective`` audit
    entry with the time it was recorded, the time it took effect and the delay in seconds.
    """
    now = _now()
    with factory.begin() as session:
        pending = list(
            session.scalars(
                select(OptOut).where(OptOut.withdrawn_at.is_(None), OptOut.effective_at.is_(None))
            )
        )
        for optout in pending:
            optout.effective_at = now
        applied = [
            (o.optout_id, o.person_id, o.channel, o.recorded_at) for o in pending
        ]  # read before the session closes
    for optout_id, person_id, channel, recorded_at in applied:
        append_audit(
            factory,
            audit_key,
            actor=applied_by,
            role="system",
            action="optout.effective",
            target=f"person:{person_id}",
            detail={
                "optout_id": optout_id,
                "channel": channel,
                "recorded_at": recorded_at.isoformat(),
                "effective_at": now.isoformat(),
                "delay_seconds": int((now - recorded_at).total_seconds()),
            },
        )
    return active_optouts(factory)


def research_exclusions(settings: Settings, *, applied_by: str) -> list[int]:
    """The opt-outs in force for a build (cohorts, extracts), read from the operational store at
    ``settings.resolved_operational_url``; their first application is audited."""
    factory = open_operational(settings.resolved_operational_url)
    try:
        return apply_optouts(factory, audit_key(settings), applied_by=applied_by)
    finally:
        engine_of(factory).dispose()
