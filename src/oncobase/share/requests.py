"""Access requests, their review by a data steward, and the permits they become.

A researcher submits a project (purpose, public interest, legal basis, team, cohort,
variables, date precision, duration). A data steward (or an administrator) asks for changes,
rejects it, or approves it; an approved request becomes a :class:`~oncobase.store.operational.
Permit` with a random, unguessable project id, the exact list of variables and an expiry
(issue time + duration). Every step is a :class:`RequestEvent`, an audit entry and a
notification.

Who sees what: stewards and administrators see every request; anyone else sees the requests
they submitted or whose team they are on. Nobody reviews their own request.

Functions take a :class:`ShareContext` (the operational store, the audit key, the SMTP
configuration) and the :class:`Actor` doing the step; they raise :class:`AccessError`, whose
``kind`` tells the edges which HTTP status fits.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from oncobase.share.errors import ShareError
from oncobase.share.notify import SmtpConfig, notify, steward_usernames
from oncobase.share.variables import DATE_PRECISIONS, check_variables
from oncobase.store import Backend
from oncobase.store.audit import append_audit
from oncobase.store.operational import AccessRequest, Permit, RequestEvent, User

SUBMITTED = "submitted"
CHANGES_REQUESTED = "changes_requested"
APPROVED = "approved"
REJECTED = "rejected"
STATUSES = (SUBMITTED, CHANGES_REQUESTED, APPROVED, REJECTED)

STEWARD_ROLES = frozenset({"admin", "data_steward"})
REQUESTER_ROLES = frozenset({"admin", "data_steward", "researcher"})
TEAM_ROLES = frozenset({"researcher"})
MAX_ID = 2**62  # ids beyond any database integer are simply unknown
MAX_DURATION_DAYS = 5 * 366
MAX_TEAM = 20


class AccessError(ShareError):
    """A step of the sharing workflow cannot be done; ``kind`` says why.

    ``invalid`` (bad input), ``not_found``, ``forbidden`` (not yours to do), ``conflict`` (not
    in a state that allows it), ``expired`` (the permit is past its expiry or revoked).
    """

    def __init__(self, message: str, *, kind: str = "invalid") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True, kw_only=True)
class Actor:
    """Who does a step: a username and its role (``admin``, ``data_steward``, ``researcher`` …)."""

    username: str
    role: str
    person_id: int | None = None  # a patient's own record

    @property
    def is_steward(self) -> bool:
        return self.role in STEWARD_ROLES


@dataclass(frozen=True, kw_only=True)
class ShareContext:
    """What the workflow writes to: the operational store, the audit chain, the mail server."""

    factory: sessionmaker[Session]
    audit_key: bytes
    smtp: SmtpConfig | None = None

    def audit(
        self,
        actor: Actor,
        action: str,
        *,
        target: str,
        detail: dict[str, object] | None = None,
    ) -> None:
        append_audit(
            self.factory,
            self.audit_key,
            actor=actor.username,
            role=actor.role,
            action=action,
            target=target,
            detail=detail,
        )

    def notify(self, usernames: Sequence[str], *, subject: str, body: str) -> None:
        notify(self.factory, usernames, subject=subject, body=body, smtp=self.smtp)


@dataclass(frozen=True, kw_only=True)
class RequestDraft:
    """What a researcher asks for (checked by :meth:`checked`)."""

    title: str
    purpose: str
    public_interest: str
    legal_basis: str
    team: tuple[str, ...] = ()
    cohort: str
    variables: tuple[str, ...]
    date_precision: str = "month"
    duration_days: int = 365

    def checked(self, factory: sessionmaker[Session], *, submitter: str) -> RequestDraft:
        """The draft with clean fields; AccessError naming every problem found."""
        problems: list[str] = []
        texts = {}
        for name, limit in (
            ("title", 200),
            ("purpose", 10_000),
            ("public_interest", 10_000),
            ("legal_basis", 200),
            ("cohort", 100),
        ):
            value = str(getattr(self, name)).strip()
            if not value:
                problems.append(f"{name.replace('_', ' ')} is required")
            elif len(value) > limit:
                problems.append(f"{name.replace('_', ' ')} is longer than {limit} characters")
            texts[name] = value
        try:
            variables = check_variables(tuple(v.strip() for v in self.variables if v.strip()))
        except ValueError as exc:
            problems.append(str(exc))
            variables = ()
        if self.date_precision not in DATE_PRECISIONS:
            problems.append(
                f"date precision {self.date_precision!r} is not one of {', '.join(DATE_PRECISIONS)}"
            )
        if not 1 <= self.duration_days <= MAX_DURATION_DAYS:
            problems.append(f"duration must be 1 to {MAX_DURATION_DAYS} days")
        team = tuple(dict.fromkeys([submitter, *(t.strip() for t in self.team if t.strip())]))
        if len(team) > MAX_TEAM:
            problems.append(f"a team has at most {MAX_TEAM} members")
        else:
            problems.extend(_team_problems(factory, team, submitter=submitter))
        if problems:
            raise AccessError("; ".join(problems))
        return replace(
            self,
            title=texts["title"],
            purpose=texts["purpose"],
            public_interest=texts["public_interest"],
            legal_basis=texts["legal_basis"],
            cohort=texts["cohort"],
            variables=variables,
            team=team,
        )


def _team_problems(
    factory: sessionmaker[Session], team: tuple[str, ...], *, submitter: str
) -> list[str]:
    others = [t for t in team if t != submitter]
    if not others:
        return []
    with factory() as session:
        found = {
            u.username: u for u in session.scalars(select(User).where(User.username.in_(others)))
        }
    problems = []
    for name in others:
        user = found.get(name)
        if user is None or user.disabled:
            problems.append(f"team member {name!r} has no active account")
        elif user.role not in TEAM_ROLES:
            problems.append(f"team member {name!r} is not a researcher")
    return problems


@dataclass(frozen=True, kw_only=True)
class EventView:
    at: datetime
    actor: str
    action: str
    comment: str


@dataclass(frozen=True, kw_only=True)
class RequestView:
    request_id: int
    title: str
    purpose: str
    public_interest: str
    legal_basis: str
    team: tuple[str, ...]
    cohort: str
    variables: tuple[str, ...]
    date_precision: str
    duration_days: int
    status: str
    submitted_by: str
    version: int
    created_at: datetime
    updated_at: datetime
    events: tuple[EventView, ...] = ()
    permit_id: int | None = None

    def draft(self) -> RequestDraft:
        """The request's fields as a draft (to amend it)."""
        return RequestDraft(
            title=self.title,
            purpose=self.purpose,
            public_interest=self.public_interest,
            legal_basis=self.legal_basis,
            team=self.team,
            cohort=self.cohort,
            variables=self.variables,
            date_precision=self.date_precision,
            duration_days=self.duration_days,
        )


@dataclass(frozen=True, kw_only=True)
class PermitView:
    permit_id: int
    request_id: int
    project_id: str
    cohort: str
    variables: tuple[str, ...]
    team: tuple[str, ...]
    date_precision: str
    issued_by: str
    issued_at: datetime
    expires_at: datetime
    revoked: bool
    title: str = ""

    def is_valid(self, now: datetime | None = None) -> bool:
        return permit_is_valid(self, now)


def now_utc() -> datetime:
    """The platform clock: naive UTC, to the second (as every operational timestamp)."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def permit_is_valid(permit: PermitView | Permit, now: datetime | None = None) -> bool:
    """Not revoked and not past its expiry."""
    return not permit.revoked and (now or now_utc()) < permit.expires_at


def _loads(text: str) -> tuple[str, ...]:
    value = json.loads(text or "[]")
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def loads_object(text: str | None) -> dict[str, Any]:
    """A stored JSON object (``{}`` for an empty column or any other JSON value)."""
    value = json.loads(text or "{}")
    return value if isinstance(value, dict) else {}


def with_comment(body: str, comment: str) -> str:
    """A notification's body, followed by the reviewer's comment when there is one."""
    return body + (f"\n\nComment: {comment}" if comment else "")


def _request_view(session: Session, row: AccessRequest, *, events: bool = True) -> RequestView:
    found: tuple[EventView, ...] = ()
    if events:
        found = tuple(
            EventView(at=e.at, actor=e.actor, action=e.action, comment=e.comment)
            for e in session.scalars(
                select(RequestEvent)
                .where(RequestEvent.request_id == row.request_id)
                .order_by(RequestEvent.event_id)
            )
        )
    permit_id = session.scalar(select(Permit.permit_id).where(Permit.request_id == row.request_id))
    return RequestView(
        request_id=row.request_id,
        title=row.title,
        purpose=row.purpose,
        public_interest=row.public_interest,
        legal_basis=row.legal_basis,
        team=_loads(row.team),
        cohort=row.cohort,
        variables=_loads(row.variables),
        date_precision=row.date_precision,
        duration_days=row.duration_days,
        status=row.status,
        submitted_by=row.submitted_by,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        events=found,
        permit_id=permit_id,
    )


def permit_view(row: Permit, *, title: str = "") -> PermitView:
    return PermitView(
        permit_id=row.permit_id,
        request_id=row.request_id,
        project_id=row.project_id,
        cohort=row.cohort,
        variables=_loads(row.variables),
        team=_loads(row.team),
        date_precision=row.date_precision,
        issued_by=row.issued_by,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        revoked=row.revoked,
        title=title,
    )


def _can_see(actor: Actor, submitted_by: str, team: Sequence[str]) -> bool:
    return actor.is_steward or actor.username == submitted_by or actor.username in team


def _require_share_role(actor: Actor) -> None:
    if actor.role not in REQUESTER_ROLES:
        raise AccessError("your role may not see access requests", kind="forbidden")


def require_steward(actor: Actor) -> None:
    """AccessError ``forbidden`` unless the actor is a data steward or an administrator."""
    if not actor.is_steward:
        raise AccessError("only a data steward or an administrator reviews", kind="forbidden")


RowT = TypeVar("RowT")


def known_id(value: int) -> bool:
    """Whether an id can name a row at all (1 … :data:`MAX_ID`)."""
    return 1 <= value <= MAX_ID


def get_row(session: Session, model: type[RowT], row_id: int, what: str) -> RowT:
    """Row ``row_id`` of ``model``; not found (``no <what> <id>``) for an id that names none."""
    row = session.get(model, row_id) if known_id(row_id) else None
    if row is None:
        raise AccessError(f"no {what} {row_id}", kind="not_found")
    return row


def _load_request(session: Session, actor: Actor, request_id: int) -> AccessRequest:
    row = get_row(session, AccessRequest, request_id, "access request")
    if not _can_see(actor, row.submitted_by, _loads(row.team)):
        raise AccessError(f"access request {request_id} is not yours", kind="forbidden")
    return row


def _load_for_review(session: Session, actor: Actor, request_id: int) -> AccessRequest:
    """The request a steward is about to decide: not their own, and awaiting review."""
    row = _load_request(session, actor, request_id)
    if row.submitted_by == actor.username:
        raise AccessError("nobody reviews their own request", kind="forbidden")
    if row.status != SUBMITTED:
        raise AccessError(
            f"access request {request_id} is {row.status.replace('_', ' ')}, not awaiting review",
            kind="conflict",
        )
    return row


def _load_permit(session: Session, permit_id: int) -> Permit:
    return get_row(session, Permit, permit_id, "permit")


def _event(session: Session, request_id: int, actor: Actor, action: str, comment: str) -> None:
    session.add(
        RequestEvent(
            request_id=request_id,
            at=now_utc(),
            actor=actor.username,
            action=action,
            comment=comment,
        )
    )


def _claim(session: Session, row: AccessRequest, *, expected: str, new: str) -> None:
    """Move the request from ``expected`` to ``new`` status, or fail if someone else did first
    (a compare-and-set, so two reviewers at once cannot both decide)."""
    result = session.execute(
        update(AccessRequest)
        .where(
            AccessRequest.request_id == row.request_id,
            AccessRequest.status == expected,
            AccessRequest.version == row.version,
        )
        .values(status=new)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        raise AccessError(
            f"access request {row.request_id} changed meanwhile; reload it", kind="conflict"
        )
    row.status = new


def _members(row: AccessRequest) -> list[str]:
    return list(dict.fromkeys([row.submitted_by, *_loads(row.team)]))


# -- the steps ---------------------------------------------------------------------------------
def submit_request(ctx: ShareContext, actor: Actor, draft: RequestDraft) -> RequestView:
    """File a new request (status ``submitted``); the stewards are notified."""
    _require_share_role(actor)
    clean = draft.checked(ctx.factory, submitter=actor.username)
    now = now_utc()
    with ctx.factory.begin() as session:
        row = AccessRequest(
            title=clean.title,
            purpose=clean.purpose,
            public_interest=clean.public_interest,
            legal_basis=clean.legal_basis,
            team=json.dumps(list(clean.team)),
            cohort=clean.cohort,
            variables=json.dumps(list(clean.variables)),
            date_precision=clean.date_precision,
            duration_days=clean.duration_days,
            status=SUBMITTED,
            submitted_by=actor.username,
            version=1,
            created_at=now,
            updated_at=now,
        )
        session.add(row)
        session.flush()
        _event(session, row.request_id, actor, "submitted", "")
        session.flush()
        view = _request_view(session, row)
    ctx.audit(
        actor,
        "share.request.submit",
        target=f"request:{view.request_id}",
        detail={"cohort": view.cohort, "variables": list(view.variables), "team": list(view.team)},
    )
    ctx.notify(
        steward_usernames(ctx.factory),
        subject=f"OncoBase: access request {view.request_id} to review",
        body=f"{actor.username} submitted access request {view.request_id} "
        f"({view.title!s}). Review it on the Data access page.",
    )
    return view


def _review_step(
    ctx: ShareContext,
    actor: Actor,
    request_id: int,
    *,
    status: str,
    action: str,
    comment: str,
    comment_required: bool,
) -> RequestView:
    require_steward(actor)
    comment = comment.strip()
    if comment_required and not comment:
        raise AccessError("write a comment that tells the researcher why")
    with ctx.factory.begin() as session:
        row = _load_for_review(session, actor, request_id)
        _claim(session, row, expected=SUBMITTED, new=status)
        row.updated_at = now_utc()
        _event(session, request_id, actor, action, comment)
        session.flush()
        view = _request_view(session, row)
        members = _members(row)
    ctx.audit(
        actor,
        f"share.request.{action}",
        target=f"request:{request_id}",
        detail={"version": view.version},
    )
    what = {"changes_requested": "needs changes", "rejected": "was rejected"}[action]
    ctx.notify(
        members,
        subject=f"OncoBase: access request {request_id} {what}",
        body=with_comment(
            f"{actor.username} reviewed access request {request_id} ({view.title}): {what}.",
            comment,
        ),
    )
    return view


def request_changes(
    ctx: ShareContext, actor: Actor, request_id: int, *, comment: str
) -> RequestView:
    """Send the request back to its researchers with a comment (status ``changes_requested``)."""
    return _review_step(
        ctx,
        actor,
        request_id,
        status=CHANGES_REQUESTED,
        action="changes_requested",
        comment=comment,
        comment_required=True,
    )


def reject_request(
    ctx: ShareContext, actor: Actor, request_id: int, *, comment: str
) -> RequestView:
    """Refuse the request, saying why (status ``rejected``, final)."""
    return _review_step(
        ctx,
        actor,
        request_id,
        status=REJECTED,
        action="rejected",
        comment=comment,
        comment_required=True,
    )


def amend_request(
    ctx: ShareContext, actor: Actor, request_id: int, draft: RequestDraft, *, comment: str = ""
) -> RequestView:
    """The submitter (or a team member) answers a change request: a new version, under review
    again."""
    _require_share_role(actor)
    with ctx.factory() as session:
        current = _load_request(session, actor, request_id)
        submitter = current.submitted_by
    clean = draft.checked(ctx.factory, submitter=submitter)
    with ctx.factory.begin() as session:
        row = _load_request(session, actor, request_id)
        if actor.username not in _members(row):
            raise AccessError("only the request's team amends it", kind="forbidden")
        if row.status != CHANGES_REQUESTED:
            raise AccessError(
                f"access request {request_id} is {row.status.replace('_', ' ')}; it can be "
                "amended only after a steward asked for changes",
                kind="conflict",
            )
        before = {
            "variables": _loads(row.variables),
            "date_precision": row.date_precision,
            "duration_days": row.duration_days,
        }
        row.title, row.purpose = clean.title, clean.purpose
        row.public_interest, row.legal_basis = clean.public_interest, clean.legal_basis
        row.team, row.cohort = json.dumps(list(clean.team)), clean.cohort
        row.variables = json.dumps(list(clean.variables))
        row.date_precision, row.duration_days = clean.date_precision, clean.duration_days
        _claim(session, row, expected=CHANGES_REQUESTED, new=SUBMITTED)
        row.version += 1
        row.updated_at = now_utc()
        _event(session, request_id, actor, "amended", comment.strip())
        session.flush()
        view = _request_view(session, row)
    ctx.audit(
        actor,
        "share.request.amend",
        target=f"request:{request_id}",
        detail={"version": view.version, "before": before, "variables": list(view.variables)},
    )
    reviewers = [e.actor for e in view.events if e.action == "changes_requested"]
    ctx.notify(
        [*reviewers, *steward_usernames(ctx.factory)],
        subject=f"OncoBase: access request {request_id} amended",
        body=f"{actor.username} amended access request {request_id} ({view.title}); "
        f"version {view.version} awaits review.",
    )
    return view


def approve_request(
    ctx: ShareContext,
    actor: Actor,
    request_id: int,
    *,
    comment: str = "",
    variables: Sequence[str] | None = None,
) -> PermitView:
    """Approve the request: a permit for its team, with the exact variables (the requested
    ones, or the subset the steward grants) and an expiry ``duration_days`` from now."""
    require_steward(actor)
    with ctx.factory.begin() as session:
        row = _load_for_review(session, actor, request_id)
        requested = _loads(row.variables)
        granted = requested if variables is None else tuple(dict.fromkeys(variables))
        extra = [v for v in granted if v not in requested]
        if extra:
            raise AccessError(f"variables not requested cannot be granted: {', '.join(extra)}")
        if not granted:
            raise AccessError("grant at least one variable, or reject the request")
        issued = now_utc()
        permit = Permit(
            request_id=request_id,
            project_id="P" + secrets.token_hex(16),
            cohort=row.cohort,
            variables=json.dumps(list(granted)),
            team=json.dumps(_members(row)),
            date_precision=row.date_precision,
            issued_by=actor.username,
            issued_at=issued,
            expires_at=issued + timedelta(days=row.duration_days),
            revoked=False,
        )
        _claim(session, row, expected=SUBMITTED, new=APPROVED)
        session.add(permit)
        row.updated_at = issued
        _event(session, request_id, actor, "approved", comment.strip())
        session.flush()
        view = permit_view(permit, title=row.title)
    ctx.audit(
        actor,
        "share.request.approve",
        target=f"request:{request_id}",
        detail={
            "permit_id": view.permit_id,
            "variables": list(view.variables),
            "expires_at": view.expires_at.isoformat(),
        },
    )
    ctx.notify(
        list(view.team),
        subject=f"OncoBase: access request {request_id} approved (permit {view.permit_id})",
        body=with_comment(
            f"{actor.username} approved access request {request_id} ({view.title}). "
            f"Permit {view.permit_id} covers {len(view.variables)} variable(s) until "
            f"{view.expires_at:%Y-%m-%d %H:%M} UTC.",
            comment.strip(),
        ),
    )
    return view


def built_cohorts(backend: Backend) -> list[str]:
    """The cohorts built in the store (what a request can ask for), by name."""
    if not backend.table_exists("cohort_definition"):
        return []
    names = backend.query_arrow(
        "SELECT DISTINCT cohort_definition_name AS name FROM cohort_definition ORDER BY 1"
    )
    return [str(n) for n in names.column("name").to_pylist()]


# -- reading -----------------------------------------------------------------------------------
def list_requests(
    factory: sessionmaker[Session], actor: Actor, *, status: str | None = None
) -> list[RequestView]:
    """The requests the actor may see, newest first (without their events)."""
    _require_share_role(actor)
    query = select(AccessRequest).order_by(AccessRequest.request_id.desc())
    if status:
        if status not in STATUSES:
            raise AccessError(f"status {status!r} is not one of {', '.join(STATUSES)}")
        query = query.where(AccessRequest.status == status)
    with factory() as session:
        return [
            _request_view(session, row, events=False)
            for row in session.scalars(query)
            if _can_see(actor, row.submitted_by, _loads(row.team))
        ]


def get_request(factory: sessionmaker[Session], actor: Actor, request_id: int) -> RequestView:
    """One request with its history (AccessError ``not_found``/``forbidden``)."""
    _require_share_role(actor)
    with factory() as session:
        return _request_view(session, _load_request(session, actor, request_id))


def _titles(session: Session, request_ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        select(AccessRequest.request_id, AccessRequest.title).where(
            AccessRequest.request_id.in_(list(request_ids))
        )
    )
    return {int(i): str(t) for i, t in rows}


def list_permits(factory: sessionmaker[Session], actor: Actor) -> list[PermitView]:
    """The permits the actor may see (their team's; every permit for stewards), newest first."""
    _require_share_role(actor)
    with factory() as session:
        rows = list(session.scalars(select(Permit).order_by(Permit.permit_id.desc())))
        titles = _titles(session, [r.request_id for r in rows])
    return [
        permit_view(r, title=titles.get(r.request_id, ""))
        for r in rows
        if actor.is_steward or actor.username in _loads(r.team)
    ]


def get_permit(factory: sessionmaker[Session], actor: Actor, permit_id: int) -> PermitView:
    """One permit (AccessError ``not_found``, or ``forbidden`` outside its team and stewards)."""
    _require_share_role(actor)
    with factory() as session:
        row = _load_permit(session, permit_id)
        title = _titles(session, [row.request_id]).get(row.request_id, "")
    view = permit_view(row, title=title)
    if not (actor.is_steward or actor.username in view.team):
        raise AccessError(f"permit {permit_id} belongs to another team", kind="forbidden")
    return view


def revoke_permit(ctx: ShareContext, actor: Actor, permit_id: int, *, comment: str) -> PermitView:
    """End a permit before its expiry (stewards); its extracts can no longer be downloaded."""
    require_steward(actor)
    if not comment.strip():
        raise AccessError("write a comment that tells the team why")
    with ctx.factory.begin() as session:
        row = _load_permit(session, permit_id)
        row.revoked = True
        view = permit_view(row)
    ctx.audit(
        actor,
        "share.permit.revoke",
        target=f"permit:{permit_id}",
        detail={"comment": comment.strip()},
    )
    ctx.notify(
        list(view.team),
        subject=f"OncoBase: permit {permit_id} revoked",
        body=f"{actor.username} revoked permit {permit_id}.\n\nComment: {comment.strip()}",
    )
    return view
