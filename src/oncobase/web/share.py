"""Pages of data access: requests, review, permits, extracts, releases, notifications, and the
opt-out forms of the patient space and of the clinicians.

Each page calls a function of :mod:`oncobase.share`; every form carries the CSRF token, and a
form sent back with a problem is shown again with what was typed and the problem named.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.orm import Session, sessionmaker

from oncobase.api.accounts import CLINICAL_ROLES, SHARE_ROLES, STEWARD_ROLES, Principal, Role
from oncobase.api.security import check_csrf, context_of, require_roles
from oncobase.api.share import actor_of, build_permit_extract, share_context, status_of
from oncobase.share import downloads, objections, release
from oncobase.share import requests as workflow
from oncobase.share.errors import ShareError
from oncobase.share.notify import list_notifications, mark_read, unread_count
from oncobase.share.variables import DATE_PRECISIONS, VARIABLES
from oncobase.web.routes import csv_response, render

router = APIRouter(include_in_schema=False)

Sharer = Annotated[Principal, Depends(require_roles(SHARE_ROLES))]
Steward = Annotated[Principal, Depends(require_roles(STEWARD_ROLES))]
Clinician = Annotated[Principal, Depends(require_roles(CLINICAL_ROLES))]
Patient = Annotated[Principal, Depends(require_roles({Role.PATIENT}))]
Token = Annotated[str | None, Form()]
Text = Annotated[str, Form(max_length=10_000)]
Many = Annotated[list[str], Form()]
_VARIABLE_LABELS = {v.name: v.label for v in VARIABLES}


def share_error_page(request: Request, exc: Exception) -> Response:
    """A refused data-access step (ShareError) as a page, or as JSON under /api: the status
    says why (403 not yours, 404 unknown, 409 changed meanwhile, 410 expired …). Installed as
    the app's handler, so a page simply calls the domain function."""
    assert isinstance(exc, ShareError)
    if request.url.path.startswith("/api/"):
        return JSONResponse({"detail": str(exc)}, status_code=status_of(exc))
    return render(request, "share_error.html", {"message": str(exc)}, status=status_of(exc))


def _cohorts(request: Request) -> list[str]:
    with context_of(request).store.backend() as backend:
        return workflow.built_cohorts(backend)


def _form_context(request: Request, draft: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "draft": draft,
        "variables": VARIABLES,
        "precisions": DATE_PRECISIONS,
        "cohorts": _cohorts(request),
        **extra,
    }


def _draft_dict(view: workflow.RequestView | None = None) -> dict[str, Any]:
    if view is None:
        return {
            "title": "",
            "purpose": "",
            "public_interest": "",
            "legal_basis": "",
            "team": "",
            "cohort": "",
            "variables": [],
            "date_precision": "month",
            "duration_days": 365,
        }
    return {
        "title": view.title,
        "purpose": view.purpose,
        "public_interest": view.public_interest,
        "legal_basis": view.legal_basis,
        "team": ", ".join(t for t in view.team if t != view.submitted_by),
        "cohort": view.cohort,
        "variables": list(view.variables),
        "date_precision": view.date_precision,
        "duration_days": view.duration_days,
    }


def _request_form(
    *,
    title: Text = "",
    purpose: Text = "",
    public_interest: Text = "",
    legal_basis: Text = "",
    team: Text = "",
    cohort: Text = "",
    variables: Many = [],  # noqa: B006  (FastAPI reads defaults, never mutates them)
    date_precision: Text = "month",
    duration_days: Text = "365",
) -> dict[str, Any]:
    """The fields of the request form, as typed (shown again when the form is sent back)."""
    return {
        "title": title,
        "purpose": purpose,
        "public_interest": public_interest,
        "legal_basis": legal_basis,
        "team": team,
        "cohort": cohort,
        "variables": variables,
        "date_precision": date_precision,
        "duration_days": duration_days,
    }


RequestForm = Annotated[dict[str, Any], Depends(_request_form)]


def _draft(form: dict[str, Any]) -> workflow.RequestDraft:
    team = [t.strip() for t in str(form["team"]).replace("\n", ",").split(",") if t.strip()]
    duration = str(form["duration_days"]).strip()
    return workflow.RequestDraft(
        title=form["title"],
        purpose=form["purpose"],
        public_interest=form["public_interest"],
        legal_basis=form["legal_basis"],
        team=tuple(team),
        cohort=form["cohort"],
        variables=tuple(form["variables"]),
        date_precision=form["date_precision"],
        duration_days=int(duration) if duration.isdigit() else 0,
    )


# -- overview, new request ---------------------------------------------------------------------
@router.get("/share")
def share_home(request: Request, principal: Sharer) -> Response:
    ctx, actor = context_of(request), actor_of(principal)
    items = workflow.list_requests(ctx.operational, actor)
    permits = workflow.list_permits(ctx.operational, actor)
    releases = release.list_releases(ctx.operational, actor)
    pending = [
        r
        for r in items
        if r.status == workflow.SUBMITTED and actor.is_steward and r.submitted_by != actor.username
    ]
    return render(
        request,
        "share_index.html",
        {
            "requests": items,
            "pending": pending,
            "permits": permits,
            "releases": releases,
            "unread": unread_count(ctx.operational, principal.username),
            "steward": actor.is_steward,
            "now": workflow.now_utc(),
        },
    )


@router.get("/share/requests/new")
def new_request_form(request: Request, principal: Sharer) -> Response:
    return render(request, "share_request_form.html", _form_context(request, _draft_dict()))


@router.post("/share/requests")
def submit_request(
    request: Request,
    principal: Sharer,
    *,
    form: RequestForm,
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        view = workflow.submit_request(share_context(request), actor_of(principal), _draft(form))
    except ShareError as exc:
        return render(
            request,
            "share_request_form.html",
            _form_context(request, form, message=str(exc)),
            status=status_of(exc),
        )
    return RedirectResponse(f"/share/requests/{view.request_id}", status_code=303)


# -- one request: history, amend, review -------------------------------------------------------
def _request_page(
    request: Request, principal: Principal, request_id: int, **extra: Any
) -> Response:
    actor = actor_of(principal)
    view = workflow.get_request(context_of(request).operational, actor, request_id)
    members = {view.submitted_by, *view.team}
    can_review = (
        actor.is_steward
        and view.status == workflow.SUBMITTED
        and view.submitted_by != actor.username
    )
    can_amend = view.status == workflow.CHANGES_REQUESTED and actor.username in members
    status = int(extra.pop("status", 200))
    context = {
        "req": view,
        "can_review": can_review,
        "can_amend": can_amend,
        "variable_labels": _VARIABLE_LABELS,
        **extra,
    }
    if can_amend:
        context.update(_form_context(request, extra.get("draft") or _draft_dict(view)))
    return render(request, "share_request.html", context, status=status)


@router.get("/share/requests/{request_id}")
def request_page(request: Request, request_id: int, principal: Sharer) -> Response:
    return _request_page(request, principal, request_id)


@router.post("/share/requests/{request_id}/amend")
def amend_request(
    request: Request,
    request_id: int,
    principal: Sharer,
    *,
    form: RequestForm,
    comment: Text = "",
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        workflow.amend_request(
            share_context(request),
            actor_of(principal),
            request_id,
            _draft(form),
            comment=comment,
        )
    except ShareError as exc:
        return _request_page(
            request,
            principal,
            request_id,
            draft=form,
            message=str(exc),
            comment=comment,
            status=status_of(exc),
        )
    return RedirectResponse(f"/share/requests/{request_id}", status_code=303)


@router.post("/share/requests/{request_id}/review")
def review_request(
    request: Request,
    request_id: int,
    principal: Steward,
    *,
    decision: Annotated[str, Form(max_length=20)] = "",
    comment: Text = "",
    variables: Many = [],  # noqa: B006
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    ctx, actor = share_context(request), actor_of(principal)
    try:
        if decision == "approve":
            permit = workflow.approve_request(
                ctx, actor, request_id, comment=comment, variables=variables
            )
            return RedirectResponse(f"/share/permits/{permit.permit_id}", status_code=303)
        if decision == "reject":
            workflow.reject_request(ctx, actor, request_id, comment=comment)
        elif decision == "changes":
            workflow.request_changes(ctx, actor, request_id, comment=comment)
        else:
            raise workflow.AccessError("choose approve, ask for changes or reject")
    except ShareError as exc:
        return _request_page(
            request,
            principal,
            request_id,
            review_message=str(exc),
            comment=comment,
            status=status_of(exc),
        )
    return RedirectResponse(f"/share/requests/{request_id}", status_code=303)


# -- permits, extracts, downloads --------------------------------------------------------------
def _permit_page(request: Request, principal: Principal, permit_id: int, **extra: Any) -> Response:
    ctx, actor = context_of(request), actor_of(principal)
    permit = workflow.get_permit(ctx.operational, actor, permit_id)
    extracts = downloads.list_extracts(ctx.operational, actor, permit_id)
    status = int(extra.pop("status", 200))
    return render(
        request,
        "share_permit.html",
        {
            "permit": permit,
            "extracts": extracts,
            "valid": permit.is_valid(),
            "on_team": actor.username in permit.team,
            "can_build": permit.is_valid() and (actor.is_steward or actor.username in permit.team),
            "variable_labels": _VARIABLE_LABELS,
            **extra,
        },
        status=status,
    )


@router.get("/share/permits/{permit_id}")
def permit_page(request: Request, permit_id: int, principal: Sharer) -> Response:
    return _permit_page(request, principal, permit_id)


@router.post("/share/permits/{permit_id}/extracts")
def build_extract(
    request: Request, permit_id: int, principal: Sharer, csrf_token: Token = None
) -> Response:
    check_csrf(request, csrf_token)
    try:
        build_permit_extract(request, principal, permit_id)
    except ShareError as exc:
        return _permit_page(request, principal, permit_id, message=str(exc), status=status_of(exc))
    return RedirectResponse(f"/share/permits/{permit_id}", status_code=303)


@router.get("/share/extracts/{extract_id}/download")
def download_extract(request: Request, extract_id: int, principal: Sharer) -> Response:
    found = downloads.record_download(share_context(request), actor_of(principal), extract_id)
    return FileResponse(found.path, media_type="application/zip", filename=found.filename)


# -- releases ----------------------------------------------------------------------------------
@router.get("/share/releases")
def releases_page(request: Request, principal: Sharer) -> Response:
    actor = actor_of(principal)
    ops = context_of(request).operational
    items = release.list_releases(ops, actor)
    permits = _releasable_permits(ops, actor)
    return render(
        request, "share_releases.html", {"releases": items, "permits": permits, "form": {}}
    )


@router.post("/share/releases")
def submit_release(
    request: Request,
    principal: Sharer,
    *,
    permit_id: Annotated[str, Form(max_length=20)] = "",
    title: Text = "",
    table: Annotated[str, Form(max_length=200_000)] = "",
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    actor = actor_of(principal)
    try:
        if not permit_id.strip().isdigit():
            raise workflow.AccessError("choose the permit the results come from")
        view = release.submit_release(
            share_context(request),
            actor,
            int(permit_id),
            title=title,
            table=release.parse_count_csv(table),
        )
    except ShareError as exc:
        ops = context_of(request).operational
        return render(
            request,
            "share_releases.html",
            {
                "releases": release.list_releases(ops, actor),
                "permits": _releasable_permits(ops, actor),
                "form": {"permit_id": permit_id, "title": title, "table": table},
                "message": str(exc),
            },
            status=status_of(exc),
        )
    return RedirectResponse(f"/share/releases/{view.release_id}", status_code=303)


def _releasable_permits(
    ops: sessionmaker[Session], actor: workflow.Actor
) -> list[workflow.PermitView]:
    """The valid permits the actor is on the team of (what results can be released under)."""
    return [
        p for p in workflow.list_permits(ops, actor) if actor.username in p.team and p.is_valid()
    ]


def _release_page(
    request: Request, principal: Principal, release_id: int, **extra: Any
) -> Response:
    actor = actor_of(principal)
    view = release.get_release(context_of(request).operational, actor, release_id)
    status = int(extra.pop("status", 200))
    can_review = (
        actor.is_steward and view.status == release.PENDING and view.requested_by != actor.username
    )
    return render(
        request,
        "share_release.html",
        {"rel": view, "can_review": can_review, **extra},
        status=status,
    )


@router.get("/share/releases/{release_id}")
def release_page(request: Request, release_id: int, principal: Sharer) -> Response:
    if request.query_params.get("format") == "csv":
        text = release.released_csv(share_context(request), actor_of(principal), release_id)
        return csv_response(text, f"release_{release_id}.csv")
    return _release_page(request, principal, release_id)


@router.post("/share/releases/{release_id}/review")
def review_release(
    request: Request,
    release_id: int,
    principal: Steward,
    *,
    decision: Annotated[str, Form(max_length=20)] = "",
    comment: Text = "",
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    try:
        if decision not in ("approve", "reject"):
            raise workflow.AccessError("choose approve or reject")
        release.decide_release(
            share_context(request),
            actor_of(principal),
            release_id,
            approve=decision == "approve",
            comment=comment,
        )
    except ShareError as exc:
        return _release_page(
            request, principal, release_id, message=str(exc), comment=comment, status=status_of(exc)
        )
    return RedirectResponse(f"/share/releases/{release_id}", status_code=303)


# -- notifications -----------------------------------------------------------------------------
@router.get("/share/notifications")
def notifications_page(request: Request, principal: Sharer) -> Response:
    rows = list_notifications(context_of(request).operational, principal.username)
    return render(request, "share_notifications.html", {"notifications": rows})


@router.post("/share/notifications/read")
def notifications_read(request: Request, principal: Sharer, csrf_token: Token = None) -> Response:
    check_csrf(request, csrf_token)
    mark_read(context_of(request).operational, principal.username)
    return RedirectResponse("/share/notifications", status_code=303)


# -- opt-outs: the patient space and the clinicians --------------------------------------------
def _optout_page(
    request: Request, person_id: int, *, own: bool, status: int = 200, message: str | None = None
) -> Response:
    state = objections.objection_status(context_of(request).operational, person_id)
    return render(
        request,
        "share_optout.html",
        {"state": state, "own": own, "message": message},
        status=status,
    )


@router.get("/me/optout")
def my_optout(request: Request, principal: Patient) -> Response:
    if principal.person_id is None:
        raise HTTPException(status_code=404, detail="no record is linked to this account")
    return _optout_page(request, principal.person_id, own=True)


@router.post("/me/optout")
def my_optout_post(
    request: Request,
    principal: Patient,
    action: Annotated[str, Form(max_length=20)] = "record",
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    if principal.person_id is None:
        raise HTTPException(status_code=404, detail="no record is linked to this account")
    return _optout_change(request, principal, None, action=action)


def _optout_change(
    request: Request, principal: Principal, person_id: int | None, *, action: str
) -> Response:
    web = context_of(request)
    own = principal.role is Role.PATIENT
    target = principal.person_id if own else person_id
    assert target is not None
    try:
        with web.store.backend() as backend:
            change = (
                objections.withdraw_objection
                if action == "withdraw"
                else objections.record_objection
            )
            change(share_context(request), actor_of(principal), person_id, backend=backend)
    except ShareError as exc:
        if status_of(exc) in (403, 404):
            return share_error_page(request, exc)
        return _optout_page(request, target, own=own, status=status_of(exc), message=str(exc))
    return RedirectResponse("/me/optout" if own else f"/patients/{target}/optout", status_code=303)


@router.get("/patients/{person_id}/optout")
def patient_optout(request: Request, person_id: int, principal: Clinician) -> Response:
    web = context_of(request)
    with web.store.backend() as backend:
        exists = objections.person_exists(backend, person_id)
    if not exists:
        raise HTTPException(status_code=404, detail="no such person")
    return _optout_page(request, person_id, own=False)


@router.post("/patients/{person_id}/optout")
def patient_optout_post(
    request: Request,
    person_id: int,
    principal: Clinician,
    action: Annotated[str, Form(max_length=20)] = "record",
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    return _optout_change(request, principal, person_id, action=action)
