"""The pages: dashboard, statistics explorer, cohorts, data quality, patient records, admin."""

from __future__ import annotations

import csv
import io
import json
import threading
from dataclasses import replace
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from oncobase.api import quality as quality_mod
from oncobase.api import records, statistics
from oncobase.api.accounts import (
    ADMIN_ROLES,
    CLINICAL_ROLES,
    COHORT_ROLES,
    QUALITY_ROLES,
    SHARE_ROLES,
    Principal,
    Role,
    WebError,
    add_user,
    authenticate,
    create_api_token,
    create_session,
    disable_user,
    end_session,
    list_users,
)
from oncobase.api.security import (
    LANG_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    client_address,
    context_of,
    csrf_token,
    current_principal,
    require_roles,
    set_cookie,
)
from oncobase.store.audit import search_audit, verify_audit
from oncobase.web.charts import bar_chart_json, rate_chart_json, survival_chart_json
from oncobase.web.i18n import pick_language, translations

_HERE = Path(str(resources.files("oncobase.web")))
templates = Jinja2Templates(directory=str(_HERE / "templates"))
router = APIRouter(include_in_schema=False)

Clinician = Annotated[Principal, Depends(require_roles(CLINICAL_ROLES))]
Patient = Annotated[Principal, Depends(require_roles({Role.PATIENT}))]
Steward = Annotated[Principal, Depends(require_roles(QUALITY_ROLES))]
Admin = Annotated[Principal, Depends(require_roles(ADMIN_ROLES))]
CohortReader = Annotated[Principal, Depends(require_roles(COHORT_ROLES))]
Token = Annotated[str | None, Form()]

NAV: tuple[tuple[str, str, frozenset[Role] | None], ...] = (
    ("/", "Dashboard", None),
    ("/explorer", "Statistics", None),
    ("/catalogue", "Catalogue", None),
    ("/cohorts", "Cohorts", COHORT_ROLES),
    ("/quality", "Data quality", QUALITY_ROLES),
    ("/patients", "Patient records", CLINICAL_ROLES),
    ("/me/record", "My record", frozenset({Role.PATIENT})),
    ("/share", "Data access", SHARE_ROLES),
    ("/admin/audit", "Audit", ADMIN_ROLES),
    ("/admin/users", "Users", ADMIN_ROLES),
)


def language(request: Request) -> str:
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        request.headers.get("accept-language"),
    )


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, *, status: int = 200
) -> HTMLResponse:
    principal = current_principal(request)
    lang = language(request)
    gettext = translations(lang).gettext
    nav = [
        (href, gettext(label))
        for href, label, roles in NAV
        if roles is None or (principal is not None and principal.role in roles)
    ]
    page = {
        "principal": principal,
        "csrf": csrf_token(request),
        "lang": lang,
        "_": gettext,
        "nav": nav,
        "path": request.url.path,
        "oidc": context_of(request).settings.oidc_enabled,
        "oidc_name": context_of(request).settings.oidc_name,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, page, status_code=status)
    if request.query_params.get("lang") == lang:
        set_cookie(request, response, LANG_COOKIE, lang, max_age=365 * 86400)
    return response


def csv_response(text: str, filename: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _rows_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return out.getvalue()


# -- public pages ------------------------------------------------------------------------------
@router.get("/")
def dashboard(request: Request) -> Response:
    with context_of(request).store.backend() as backend:
        figures = statistics.dashboard(backend)
    if request.query_params.get("download") == "trend":
        return csv_response(figures.cases_by_year.to_csv(), "cases_by_year.csv")
    if request.query_params.get("download") == "sites":
        return csv_response(figures.top_sites.to_csv(), "cases_by_site_latest_year.csv")
    return render(
        request,
        "dashboard.html",
        {
            "figures": figures,
            "trend_chart": bar_chart_json(figures.cases_by_year, kind="line"),
            "sites_chart": bar_chart_json(figures.top_sites),
            "site_labels": statistics.site_labels(),
        },
    )


@router.get("/explorer")
def explorer(request: Request) -> Response:
    params = {k: request.query_params.getlist(k) for k in request.query_params}
    error = None
    try:
        q = statistics.query_from_params(params)
    except statistics.FilterError as exc:
        error, q = str(exc), statistics.ExplorerQuery()
    ctx = context_of(request)
    status = 400 if error else 200
    if request.query_params.get("format") == "csv":
        view = _explorer_view(request, q, error, gettext=translations("en").gettext)
        if view["table"] is not None:
            return csv_response(view["table"].to_csv(), f"{q.measure}_by_{q.group_by}.csv")
        return csv_response(statistics.survival_csv(view["survival"]), f"{q.measure}.csv")
    partial = bool(request.query_params.get("partial"))
    name = "explorer_results.html" if partial else "explorer_body.html"
    lang = language(request)
    with ctx.store.backend() as backend:
        version = statistics.store_version(backend)
    population = ctx.settings.resolved_population_csv
    key = (name, lang, urlencode(statistics.query_to_params(q)), error, version,
           _file_state(population))  # fmt: skip
    html = _FRAGMENTS.get(key)
    if html is None:  # a view is rendered once per store state and language
        gettext = translations(lang).gettext
        view = _explorer_view(request, q, error, gettext=gettext)
        html = templates.get_template(name).render({**view, "_": gettext, "lang": lang})
        with _FRAGMENTS_LOCK:
            if len(_FRAGMENTS) > 1000:
                _FRAGMENTS.clear()
            _FRAGMENTS[key] = html
    if partial:
        return HTMLResponse(html, status_code=status)
    return render(request, "explorer.html", {"body": html}, status=status)


_FRAGMENTS: dict[tuple[object, ...], str] = {}
_FRAGMENTS_LOCK = threading.Lock()


def _file_state(path: Path | None) -> tuple[str, float] | None:
    if path is None or not path.is_file():
        return None
    return str(path), path.stat().st_mtime


def _explorer_view(
    request: Request, q: statistics.ExplorerQuery, error: str | None, *, gettext: Any
) -> dict[str, Any]:
    """What the explorer shows for ``q``: the table (with its rates) or the survival rows."""
    ctx = context_of(request)
    table = None
    survival: list[statistics.SurvivalRow] = []
    notes: list[str] = []
    try:
        population = statistics.load_population(ctx.settings.resolved_population_csv)
    except statistics.PopulationError as exc:
        population = None
        notes.append(str(exc))
    with ctx.store.backend() as backend:
        if q.measure in statistics.COUNT_MEASURES:
            table = statistics.measure_table(backend, q)
            if population is not None:
                rates, rate_note = statistics.measure_rates(backend, q, population)
                table = replace(table, rates=rates)  # the cached table stays as it was
                if rate_note:
                    notes.append(rate_note)
        else:
            survival = statistics.survival_rows(backend, q)
    if table is not None and table.note:
        notes.insert(0, table.note)
    if table is not None:
        chart_json = bar_chart_json(
            table, stacked=q.series is not None, value_label=gettext(_VALUE_LABELS[q.measure])
        )
    else:
        chart_json = survival_chart_json(survival)
    return {
        "q": q,
        "error": error,
        "table": table,
        "survival": survival,
        "rates": table.rates if table is not None else [],
        "rates_chart": rate_chart_json(table.rates, label=gettext("per 100,000"))
        if table is not None
        else None,
        "notes": notes,
        "population": population is not None,
        "chart_json": chart_json,
        "share": urlencode(statistics.query_to_params(q)),
        "dims": statistics.DIMENSIONS,
        "measures": statistics.MEASURES,
        "durations": statistics.DURATIONS,
        "sites": statistics.site_labels(),
        "age_groups": statistics.AGE_GROUPS,
        "regions": statistics.regions(),
        "departements": statistics.departements(),
        "standards": statistics.STANDARD_CHOICES,
    }


_VALUE_LABELS = {
    "incidence": "incident cases",
    "mortality": "deaths among registered cases",
    "prevalence": "prevalent cases",
}


# -- sign in and out ---------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return render(request, "login.html", {"next": _safe_next(next), "message": None})


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=200)],
    csrf_token: Token = None,
    next: Annotated[str | None, Form()] = None,
) -> Response:
    check_csrf(request, csrf_token)
    ctx = context_of(request)
    s = ctx.settings
    result = authenticate(
        ctx.operational,
        username,
        password,
        client=client_address(request),
        max_failures=s.login_max_failures,
        lockout=timedelta(minutes=s.lockout_minutes),
        rate_per_minute=s.login_rate_per_minute,
    )
    if result.principal is None:
        ctx.audit(None, "login.failed", target=f"user:{username[:60]}", actor=username[:60],
                  detail={"reason": result.reason})  # fmt: skip
        gettext = translations(language(request)).gettext
        message = {
            "locked": gettext("This account is locked for a while after too many failures."),
            "rate_limited": gettext("Too many attempts from your address; wait a minute."),
        }.get(result.reason or "", gettext("Wrong username or password."))
        status = 429 if result.reason == "rate_limited" else 401
        return render(
            request, "login.html", {"next": _safe_next(next), "message": message}, status=status
        )
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        end_session(ctx.operational, old)  # a new id at each sign-in: no session fixation
    token = create_session(ctx.operational, result.principal, hours=s.session_hours)
    ctx.audit(result.principal, "login")
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(request, response, SESSION_COOKIE, token, max_age=int(s.session_hours * 3600))
    return response


@router.post("/logout")
def logout(request: Request, csrf_token: Token = None) -> Response:
    check_csrf(request, csrf_token)
    ctx = context_of(request)
    token = request.cookies.get(SESSION_COOKIE)
    principal = current_principal(request)
    if token:
        end_session(ctx.operational, token)
    if principal:
        ctx.audit(principal, "logout")
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# -- cohorts, quality --------------------------------------------------------------------------
@router.get("/cohorts")
def cohorts(request: Request, principal: CohortReader) -> Response:
    api = quality_mod.cohorts_api()
    items: list[Any] = list(api["list_cohorts"]()) if api else []
    return render(request, "cohorts.html", {"available": api is not None, "cohorts": items})


@router.get("/cohorts/{name}")
def cohort(request: Request, name: str, principal: CohortReader) -> Response:
    api = quality_mod.cohorts_api()
    if api is None:
        return render(request, "cohorts.html", {"available": False, "cohorts": []})
    known = {_cohort_name(c) for c in api["list_cohorts"]()}
    if name not in known:
        raise HTTPException(status_code=404, detail="no such cohort")
    definition = api["load_cohort"](name)
    with context_of(request).store.backend() as backend:
        summary = api["cohort_summary"](backend, name)
    if request.query_params.get("format") == "json":
        return Response(json.dumps(summary, default=str), media_type="application/json")
    return render(
        request,
        "cohort.html",
        {"name": name, "definition": definition, "summary": summary, "tables": _tables(summary)},
    )


def _cohort_name(item: Any) -> str:
    if isinstance(item, str):
        return item
    if isinstance(item, dict):
        return str(item.get("name", ""))
    return str(getattr(item, "name", item))


def _tables(summary: Any) -> list[tuple[str, list[str], list[list[Any]]]]:
    """Lists of records inside a cohort summary, as (title, columns, rows) tables."""
    out: list[tuple[str, list[str], list[list[Any]]]] = []
    if not isinstance(summary, dict):
        return out
    for key, value in summary.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            columns = list(dict.fromkeys(k for row in value for k in row))
            out.append((str(key), columns, [[row.get(c) for c in columns] for row in value]))
    return out


@router.get("/quality")
def quality(request: Request, principal: Steward) -> Response:
    with context_of(request).store.backend() as backend:
        view = quality_mod.quality_view(backend)
    download = request.query_params.get("download")
    if download == "loads":
        columns = ["step", "source", "status", "rows_read", "rows_accepted",
                   "rows_quarantined", "started_at"]  # fmt: skip
        return csv_response(_rows_csv(view.loads, columns), "loads.csv")
    if download == "quarantine":
        columns = ["quarantined_at", "source", "file", "location", "reason", "raw_sha256"]
        return csv_response(_rows_csv(view.samples, columns), "quarantine_samples.csv")
    if download == "counts":
        rows = [{"table": k, "rows": v} for k, v in view.counts.items()]
        return csv_response(_rows_csv(rows, ["table", "rows"]), "table_counts.csv")
    return render(request, "quality.html", {"view": view})


# -- patient records ---------------------------------------------------------------------------
@router.get("/patients")
def patients(request: Request, principal: Clinician, person_id: str | None = None) -> Response:
    if person_id:
        if not person_id.strip().isdigit():
            raise HTTPException(status_code=400, detail="a person id is a number")
        return RedirectResponse(f"/patients/{int(person_id)}", status_code=303)
    with context_of(request).store.backend() as backend:
        sample = records.sample_person_ids(backend, limit=10)
    return render(request, "patients.html", {"sample": sample})


def _record_page(request: Request, principal: Principal, person_id: int, *, own: bool) -> Response:
    ctx = context_of(request)
    with ctx.store.backend() as backend:
        summary = records.person_timeline(backend, person_id)
    as_csv = request.query_params.get("format") == "csv"
    ctx.audit(
        principal,
        "record.read",
        target=f"person:{person_id}",
        detail={"via": "csv" if as_csv else "page", "found": summary is not None},
    )
    if summary is None:
        raise HTTPException(status_code=404, detail="no such person")
    if as_csv:
        rows = [e.__dict__ for e in summary.events]
        return csv_response(
            _rows_csv(rows, ["date", "kind", "code", "label", "detail"]),
            f"record_{person_id}.csv",
        )
    return render(request, "timeline.html", {"summary": summary, "own": own})


@router.get("/patients/{person_id}")
def patient(request: Request, person_id: int, principal: Clinician) -> Response:
    return _record_page(request, principal, person_id, own=False)


@router.get("/me/record")
def my_record(request: Request, principal: Patient) -> Response:
    if principal.person_id is None:
        raise HTTPException(status_code=404, detail="no record is linked to this account")
    return _record_page(request, principal, principal.person_id, own=True)


# -- administration ----------------------------------------------------------------------------
@router.get("/admin/audit")
def audit_page(
    request: Request,
    principal: Admin,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
) -> Response:
    ctx = context_of(request)
    entries = search_audit(
        ctx.operational, actor=actor or None, action=action or None, target=target or None
    )
    ctx.audit(principal, "audit.search", detail={"actor": actor, "action": action})
    if request.query_params.get("format") == "csv":
        rows = [e.__dict__ for e in entries]
        columns = ["seq", "at", "actor", "role", "action", "target", "detail", "entry_hash"]
        return csv_response(_rows_csv(rows, columns), "audit.csv")
    check = verify_audit(ctx.operational, ctx.audit_key)
    return render(
        request,
        "audit.html",
        {"entries": entries, "check": check, "actor": actor, "action": action, "target": target},
    )


@router.get("/admin/users")
def users_page(request: Request, principal: Admin) -> Response:
    users = list_users(context_of(request).operational)
    if request.query_params.get("format") == "csv":
        rows = [{"username": u.username, "role": u.role, "disabled": u.disabled} for u in users]
        return csv_response(_rows_csv(rows, ["username", "role", "disabled"]), "users.csv")
    return render(request, "users.html", {"users": users, "roles": list(Role), "message": None})


@router.post("/admin/users")
def users_add(
    request: Request,
    principal: Admin,
    *,
    username: Annotated[str, Form(max_length=100)],
    role: Annotated[str, Form(max_length=30)],
    password: Annotated[str, Form(max_length=200)],
    person_id: Annotated[str | None, Form()] = None,
    email: Annotated[str | None, Form(max_length=254)] = None,
    csrf_token: Token = None,
) -> Response:
    check_csrf(request, csrf_token)
    ctx = context_of(request)
    person = int(person_id) if person_id and person_id.strip().isdigit() else None
    try:
        add_user(ctx.operational, username, role, password=password, person_id=person, email=email)
    except WebError as exc:
        users = list_users(ctx.operational)
        return render(
            request,
            "users.html",
            {"users": users, "roles": list(Role), "message": str(exc)},
            status=400,
        )
    ctx.audit(principal, "user.add", target=f"user:{username}", detail={"role": role})
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/admin/users/{username}/disable")
def users_disable(
    request: Request, username: str, principal: Admin, csrf_token: Token = None
) -> Response:
    check_csrf(request, csrf_token)
    ctx = context_of(request)
    try:
        disable_user(ctx.operational, username)
    except WebError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    ctx.audit(principal, "user.disable", target=f"user:{username}")
    return RedirectResponse("/admin/users", status_code=303)


@router.post("/account/token")
def new_token(
    request: Request, label: Annotated[str, Form(max_length=100)] = "", csrf_token: Token = None
) -> Response:
    check_csrf(request, csrf_token)
    principal = current_principal(request)
    if principal is None:
        raise HTTPException(status_code=401, detail="sign in first")
    ctx = context_of(request)
    token = create_api_token(ctx.operational, principal.username, label=label)
    ctx.audit(principal, "token.create", detail={"label": label})
    return render(request, "token.html", {"token": token})


# -- errors and static files -------------------------------------------------------------------
def _plotly_js() -> Path:
    return Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))


def install_pages(app: FastAPI) -> None:
    """Mount the pages, the static files and the HTML error pages on ``app``."""
    app.include_router(router)
    from oncobase.share.errors import ShareError
    from oncobase.web.catalogue import router as catalogue_pages
    from oncobase.web.oidc import install_oidc
    from oncobase.web.share import router as share_pages
    from oncobase.web.share import share_error_page

    app.include_router(share_pages)
    app.add_exception_handler(ShareError, share_error_page)
    app.include_router(catalogue_pages)

    install_oidc(app)

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly_js() -> FileResponse:
        return FileResponse(
            _plotly_js(),
            media_type="text/javascript",
            headers={"Cache-Control": "public, max-age=86400"},
        )

    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/") or request.url.path in ("/health", "/ready"):
            return Response(
                json.dumps({"detail": exc.detail}),
                status_code=exc.status_code,
                media_type="application/json",
                headers=getattr(exc, "headers", None),
            )
        return render(
            request, "error.html", {"status": exc.status_code, "detail": exc.detail},
            status=exc.status_code,
        )  # fmt: skip
