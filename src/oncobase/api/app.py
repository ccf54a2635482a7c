"""The FastAPI application of OncoBase: JSON API, pages, health checks."""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from sqlalchemy import text

from oncobase import __version__
from oncobase.api.catalogue import router as catalogue_router
from oncobase.api.context import WebContext
from oncobase.api.routes import router as api_router
from oncobase.api.schemas import HealthPublic, ReadyPublic
from oncobase.api.security import PRE_COOKIE, LoginRequired, set_cookie
from oncobase.api.settings import WebSettings
from oncobase.api.share import router as share_router
from oncobase.api.store_pool import StorePool
from oncobase.store.operational import open_operational

_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; "
    "form-action 'self'"
)


def _warm_up(ctx: WebContext) -> None:
    """Read the statistics' sources ahead, so the first visitors do not wait for them."""
    from oncobase.api.statistics import warm_up

    try:
        with ctx.store.backend() as backend:
            warm_up(backend)
    except Exception:  # the store may be absent or locked by a pipeline run: pages will tell
        logging.getLogger(__name__).info("statistics warm-up skipped: store not readable")


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """Build the web service (operational store created on first start)."""
    settings = settings or WebSettings()
    ctx = WebContext(
        settings=settings,
        operational=open_operational(settings.resolved_operational_url),
        store=StorePool(settings.resolved_store_url),
        session_key=settings.session_key(),
        audit_key=settings.audit_key(),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        threading.Thread(target=_warm_up, args=(ctx,), name="warm-up", daemon=True).start()
        yield
        ctx.store.close()

    app = FastAPI(
        title="OncoBase",
        version=__version__,
        description="Open national cancer data platform: open statistics (disclosure-"
        "controlled), patient records for their roles, data quality and audit.",
        lifespan=lifespan,
    )
    app.state.web = ctx
    app.include_router(api_router)
    app.include_router(share_router)
    app.include_router(catalogue_router)

    @app.get("/health", tags=["service"])
    def health() -> HealthPublic:
        """The process answers."""
        return HealthPublic(status="ok")

    @app.get(
        "/ready",
        tags=["service"],
        response_model=ReadyPublic,
        responses={503: {"model": ReadyPublic}},
    )
    def ready() -> ReadyPublic | JSONResponse:
        """Both stores answer (503 otherwise)."""
        store_ok = operational_ok = False
        try:
            with ctx.store.backend() as backend:
                backend.scalar("SELECT 1")
            store_ok = True
        except Exception:  # the store may be locked by a pipeline run or absent
            store_ok = False
        try:
            with ctx.operational() as session:
                session.execute(text("SELECT 1"))
            operational_ok = True
        except Exception:  # report, do not crash
            operational_ok = False
        body = ReadyPublic(
            status="ready" if store_ok and operational_ok else "not ready",
            store=store_ok,
            operational=operational_ok,
        )
        if store_ok and operational_ok:
            return body
        return JSONResponse(body.model_dump(), status_code=503)

    from oncobase.web.routes import install_pages

    install_pages(app)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, exc: RequestValidationError) -> Response:
        # The caller's own input is not echoed back (it may be hostile or personal).
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        return JSONResponse({"detail": errors}, status_code=422)

    @app.exception_handler(LoginRequired)
    async def _login_required(request: Request, _exc: LoginRequired) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": "sign in or send a bearer token"}, status_code=401)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)

    @app.middleware("http")
    async def _headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        new_pre = getattr(request.state, "new_pre", None)
        if new_pre:
            set_cookie(request, response, PRE_COOKIE, new_pre, max_age=12 * 3600)
        response.headers.setdefault("Content-Security-Policy", _CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if not request.url.path.startswith("/static/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
