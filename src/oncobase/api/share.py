"""JSON API of access requests, permits, extracts, release requests, notifications and opt-outs.

Every endpoint calls a function of :mod:`oncobase.share`; this module only turns HTTP into
those calls and their :class:`~oncobase.share.requests.AccessError` into a status code. A
write sent with the session cookie must carry the CSRF token (``X-CSRF-Token``); a bearer
token needs none (it is not sent by the browser on its own).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse
from pydantic import BaseModel, Field

from oncobase.api.accounts import SHARE_ROLES, STEWARD_ROLES, Principal, Role
from oncobase.api.security import check_csrf, context_of, require_roles
from oncobase.share import downloads, objections, release
from oncobase.share import requests as workflow
from oncobase.share.errors import ShareError
from oncobase.share.notify import SmtpConfig, list_notifications, mark_read
from oncobase.share.variables import VARIABLES

router = APIRouter(prefix="/api/v1", tags=["share"])

Sharer = Annotated[Principal, Depends(require_roles(SHARE_ROLES))]
Steward = Annotated[Principal, Depends(require_roles(STEWARD_ROLES))]
Objector = Annotated[Principal, Depends(require_roles({Role.PATIENT, Role.CLINICIAN}))]

_STATUS = {"invalid": 400, "not_found": 404, "forbidden": 403, "conflict": 409, "expired": 403}


def status_of(exc: ShareError) -> int:
    """The HTTP status of a refused step: by its AccessError ``kind``; 400 for the rest."""
    return _STATUS.get(exc.kind, 400) if isinstance(exc, workflow.AccessError) else 400


def csrf_unless_bearer(request: Request) -> None:
    """Writes with the session cookie need the CSRF token; bearer tokens do not."""
    if not request.headers.get("authorization", "").lower().startswith("bearer "):
        check_csrf(request, None)


Csrf = Annotated[None, Depends(csrf_unless_bearer)]


def share_context(request: Request) -> workflow.ShareContext:
    """The sharing workflow on the web service's operational store and settings."""
    ctx = context_of(request)
    return workflow.ShareContext(
        factory=ctx.operational,
        audit_key=ctx.audit_key,
        smtp=SmtpConfig.from_settings(ctx.settings.platform()),
    )


def actor_of(principal: Principal) -> workflow.Actor:
    return workflow.Actor(
        username=principal.username, role=principal.role.value, person_id=principal.person_id
    )


@contextmanager
def http_errors() -> Iterator[None]:
    """AccessError → its status code; any other ShareError → 400 with its message."""
    try:
        yield
    except ShareError as exc:
        raise HTTPException(status_code=status_of(exc), detail=str(exc)) from None


def build_permit_extract(
    request: Request, principal: Principal, permit_id: int
) -> downloads.ExtractView:
    """Build an extract of the permit on the web service's store (pages and API alike)."""
    from oncobase.linkage import ensure_pseudonym_key

    web = context_of(request)
    platform = web.settings.platform()
    with web.store.backend() as backend:
        return downloads.build_permit_extract(
            share_context(request),
            actor_of(principal),
            permit_id,
            backend=backend,
            home=platform.home_path,
            pseudonym_key=ensure_pseudonym_key(platform),
        )


# -- shapes ------------------------------------------------------------------------------------
class VariablePublic(BaseModel):
    name: str
    label: str
    standard: str
    kind: str
    quasi_identifier: bool


class RequestCreate(BaseModel):
    title: str = Field(max_length=200)
    purpose: str = Field(max_length=10_000)
    public_interest: str = Field(max_length=10_000)
    legal_basis: str = Field(max_length=200)
    team: list[str] = Field(default_factory=list, max_length=20)
    cohort: str = Field(max_length=100)
    variables: list[str] = Field(max_length=100)
    date_precision: str = "month"
    duration_days: int = Field(default=365, ge=1)

    def draft(self) -> workflow.RequestDraft:
        return workflow.RequestDraft(
            title=self.title,
            purpose=self.purpose,
            public_interest=self.public_interest,
            legal_basis=self.legal_basis,
            team=tuple(self.team),
            cohort=self.cohort,
            variables=tuple(self.variables),
            date_precision=self.date_precision,
            duration_days=self.duration_days,
        )


class RequestUpdate(RequestCreate):
    comment: str = Field(default="", max_length=10_000)


class ReviewCreate(BaseModel):
    decision: Literal["approve", "reject", "changes"]
    comment: str = Field(default="", max_length=10_000)
    variables: list[str] | None = Field(
        default=None, description="Approve only these of the requested variables."
    )


class RequestEventPublic(BaseModel):
    at: dt.datetime
    actor: str
    action: str
    comment: str


class RequestPublic(BaseModel):
    request_id: int
    title: str
    purpose: str
    public_interest: str
    legal_basis: str
    team: list[str]
    cohort: str
    variables: list[str]
    date_precision: str
    duration_days: int
    status: str
    submitted_by: str
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    events: list[RequestEventPublic]
    permit_id: int | None


class PermitPublic(BaseModel):
    permit_id: int
    request_id: int
    project_id: str
    title: str
    cohort: str
    variables: list[str]
    team: list[str]
    date_precision: str
    issued_by: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    revoked: bool
    valid: bool


class ExtractPublic(BaseModel):
    extract_id: int
    permit_id: int
    built_at: dt.datetime
    persons: int
    rows: int
    k_min: int
    report: dict[str, object]
    download: str


class NotificationPublic(BaseModel):
    notification_id: int
    at: dt.datetime
    subject: str
    body: str
    read: bool
    emailed: bool


class NotificationsRead(BaseModel):
    notification_ids: list[Annotated[int, Field(ge=1, le=workflow.MAX_ID)]] | None = None


class ReleaseCreate(BaseModel):
    permit_id: int
    title: str = Field(max_length=200)
    rows: list[str] = Field(max_length=release.MAX_ROWS)
    columns: list[str] = Field(max_length=release.MAX_COLUMNS)
    cells: list[list[int]] = Field(max_length=release.MAX_ROWS)


class ReleaseReview(BaseModel):
    decision: Literal["approve", "reject"]
    comment: str = Field(default="", max_length=10_000)


class ReleasePublic(BaseModel):
    release_id: int
    permit_id: int
    requested_by: str
    at: dt.datetime
    title: str
    status: str
    reviewed_by: str | None
    decided_at: dt.datetime | None
    comment: str
    table: dict[str, object]


class OptOutCreate(BaseModel):
    person_id: int | None = Field(
        default=None, description="The patient (clinicians); a patient objects for themselves."
    )


class OptOutPublic(BaseModel):
    person_id: int
    active: bool
    recorded_at: dt.datetime | None
    channel: str | None
    effective_at: dt.datetime | None


def _request_public(view: workflow.RequestView) -> RequestPublic:
    return RequestPublic(
        **{k: v for k, v in view.__dict__.items() if k not in ("events", "team", "variables")},
        team=list(view.team),
        variables=list(view.variables),
        events=[RequestEventPublic(**e.__dict__) for e in view.events],
    )


def _permit_public(view: workflow.PermitView) -> PermitPublic:
    return PermitPublic(
        **{k: v for k, v in view.__dict__.items() if k not in ("team", "variables")},
        team=list(view.team),
        variables=list(view.variables),
        valid=view.is_valid(),
    )


def _extract_public(view: downloads.ExtractView) -> ExtractPublic:
    return ExtractPublic(
        **view.__dict__, download=f"/api/v1/share/extracts/{view.extract_id}/download"
    )


# -- endpoints ---------------------------------------------------------------------------------
@router.get("/share/variables")
def share_variables(principal: Sharer) -> list[VariablePublic]:
    """The variables an access request may ask for."""
    return [
        VariablePublic(
            name=v.name,
            label=v.label,
            standard=v.standard,
            kind=v.kind,
            quasi_identifier=v.quasi_identifier,
        )
        for v in VARIABLES
    ]


@router.get("/share/requests")
def share_requests(
    request: Request, principal: Sharer, status: str | None = None
) -> list[RequestPublic]:
    """The access requests you submitted or are on the team of (all of them for stewards)."""
    with http_errors():
        views = workflow.list_requests(
            context_of(request).operational, actor_of(principal), status=status
        )
    return [_request_public(v) for v in views]


@router.post("/share/requests", status_code=201)
def share_submit(
    request: Request, body: RequestCreate, principal: Sharer, _csrf: Csrf
) -> RequestPublic:
    """Submit an access request; the data stewards are notified."""
    with http_errors():
        view = workflow.submit_request(share_context(request), actor_of(principal), body.draft())
    return _request_public(view)


@router.get("/share/requests/{request_id}")
def share_request(request: Request, request_id: int, principal: Sharer) -> RequestPublic:
    """One access request with its review history."""
    with http_errors():
        view = workflow.get_request(
            context_of(request).operational, actor_of(principal), request_id
        )
    return _request_public(view)


@router.post("/share/requests/{request_id}/amend")
def share_amend(
    request: Request, request_id: int, body: RequestUpdate, principal: Sharer, _csrf: Csrf
) -> RequestPublic:
    """Answer a steward's change request with a new version of the request."""
    with http_errors():
        view = workflow.amend_request(
            share_context(request),
            actor_of(principal),
            request_id,
            body.draft(),
            comment=body.comment,
        )
    return _request_public(view)


@router.post("/share/requests/{request_id}/review")
def share_review(
    request: Request, request_id: int, body: ReviewCreate, principal: Steward, _csrf: Csrf
) -> RequestPublic:
    """Approve (→ a permit), reject, or ask for changes (data stewards and administrators)."""
    ctx, actor = share_context(request), actor_of(principal)
    with http_errors():
        if body.decision == "approve":
            workflow.approve_request(
                ctx, actor, request_id, comment=body.comment, variables=body.variables
            )
        elif body.decision == "reject":
            workflow.reject_request(ctx, actor, request_id, comment=body.comment)
        else:
            workflow.request_changes(ctx, actor, request_id, comment=body.comment)
        view = workflow.get_request(ctx.factory, actor, request_id)
    return _request_public(view)


@router.get("/share/permits")
def share_permits(request: Request, principal: Sharer) -> list[PermitPublic]:
    """Your team's permits (all of them for stewards)."""
    with http_errors():
        views = workflow.list_permits(context_of(request).operational, actor_of(principal))
    return [_permit_public(v) for v in views]


@router.get("/share/permits/{permit_id}")
def share_permit(request: Request, permit_id: int, principal: Sharer) -> PermitPublic:
    """One permit: its exact variables, date precision, team and expiry."""
    with http_errors():
        view = workflow.get_permit(context_of(request).operational, actor_of(principal), permit_id)
    return _permit_public(view)


@router.get("/share/permits/{permit_id}/extracts")
def share_extracts(request: Request, permit_id: int, principal: Sharer) -> list[ExtractPublic]:
    """The extracts built from a permit."""
    with http_errors():
        views = downloads.list_extracts(
            context_of(request).operational, actor_of(principal), permit_id
        )
    return [_extract_public(v) for v in views]


@router.post("/share/permits/{permit_id}/extracts", status_code=201)
def share_build_extract(
    request: Request, permit_id: int, principal: Sharer, _csrf: Csrf
) -> ExtractPublic:
    """Build an extract of a valid permit (its team or a steward); opt-outs are excluded."""
    with http_errors():
        view = build_permit_extract(request, principal, permit_id)
    return _extract_public(view)


@router.get(
    "/share/extracts/{extract_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def share_download(request: Request, extract_id: int, principal: Sharer) -> FileResponse:
    """The extract's zip archive: the permit's team only, until the permit expires; audited."""
    with http_errors():
        found = downloads.record_download(share_context(request), actor_of(principal), extract_id)
    return FileResponse(found.path, media_type="application/zip", filename=found.filename)


@router.get("/share/notifications")
def share_notifications(
    request: Request, principal: Sharer, unread: bool = False
) -> list[NotificationPublic]:
    """Your notifications, newest first."""
    rows = list_notifications(
        context_of(request).operational, principal.username, unread_only=unread
    )
    return [
        NotificationPublic(**{k: v for k, v in r.__dict__.items() if k != "username"}) for r in rows
    ]


@router.post("/share/notifications/read")
def share_notifications_read(
    request: Request, body: NotificationsRead, principal: Sharer, _csrf: Csrf
) -> dict[str, int]:
    """Mark your notifications read (all of them without ids)."""
    count = mark_read(context_of(request).operational, principal.username, body.notification_ids)
    return {"marked": count}


@router.get("/share/releases")
def share_releases(request: Request, principal: Sharer) -> list[ReleasePublic]:
    """Release requests of your teams (all of them for stewards)."""
    with http_errors():
        views = release.list_releases(context_of(request).operational, actor_of(principal))
    return [ReleasePublic(**v.__dict__) for v in views]


@router.post("/share/releases", status_code=201)
def share_release_submit(
    request: Request, body: ReleaseCreate, principal: Sharer, _csrf: Csrf
) -> ReleasePublic:
    """Ask to release a count table of your results: suppressed first, then reviewed."""
    table = release.CountTable(
        rows=tuple(body.rows),
        columns=tuple(body.columns),
        cells=tuple(tuple(r) for r in body.cells),
    )
    with http_errors():
        view = release.submit_release(
            share_context(request),
            actor_of(principal),
            body.permit_id,
            title=body.title,
            table=table,
        )
    return ReleasePublic(**view.__dict__)


@router.get("/share/releases/{release_id}")
def share_release(request: Request, release_id: int, principal: Sharer) -> ReleasePublic:
    """One release request (its table as it passed disclosure control)."""
    with http_errors():
        view = release.get_release(context_of(request).operational, actor_of(principal), release_id)
    return ReleasePublic(**view.__dict__)


@router.get(
    "/share/releases/{release_id}/csv",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def share_release_csv(request: Request, release_id: int, principal: Sharer) -> PlainTextResponse:
    """The approved table as CSV."""
    with http_errors():
        text = release.released_csv(share_context(request), actor_of(principal), release_id)
    return PlainTextResponse(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="release_{release_id}.csv"'},
    )


@router.post("/share/releases/{release_id}/review")
def share_release_review(
    request: Request, release_id: int, body: ReleaseReview, principal: Steward, _csrf: Csrf
) -> ReleasePublic:
    """Approve or reject a release request (data stewards and administrators)."""
    with http_errors():
        view = release.decide_release(
            share_context(request),
            actor_of(principal),
            release_id,
            approve=body.decision == "approve",
            comment=body.comment,
        )
    return ReleasePublic(**view.__dict__)


@router.post("/share/optouts", status_code=201)
def share_optout(
    request: Request, body: OptOutCreate, principal: Objector, _csrf: Csrf
) -> OptOutPublic:
    """Record an objection to research reuse: a patient for themselves, a clinician for a
    patient of the store. It applies from the next extract or cohort build."""
    web = context_of(request)
    with http_errors(), web.store.backend() as backend:
        status = objections.record_objection(
            share_context(request), actor_of(principal), body.person_id, backend=backend
        )
    return OptOutPublic(**status.__dict__)
