"""Who is asking, and may they: session cookies, bearer tokens, CSRF tokens, role checks."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Iterable

from fastapi import HTTPException, Request, Response

from oncobase.api.accounts import Principal, Role, resolve_api_token, resolve_session
from oncobase.api.context import WebContext

SESSION_COOKIE = "oncobase_session"
PRE_COOKIE = "oncobase_pre"
LANG_COOKIE = "oncobase_lang"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class LoginRequired(Exception):  # noqa: N818  (a signal, handled into a redirect or a 401)
    """Raised when a page needs a signed-in user."""


def context_of(request: Request) -> WebContext:
    ctx: WebContext = request.app.state.web
    return ctx


def current_principal(request: Request) -> Principal | None:
    """The user behind the bearer token or the session cookie (cached on the request)."""
    if hasattr(request.state, "principal"):
        cached: Principal | None = request.state.principal
        return cached
    ctx = context_of(request)
    principal: Principal | None = None
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        principal = resolve_api_token(ctx.operational, header[7:].strip())
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            principal = resolve_session(ctx.operational, token)
    request.state.principal = principal
    return principal


def require_roles(roles: Iterable[Role]) -> Callable[[Request], Principal]:
    """A dependency: the signed-in user, 401/redirect when nobody, 403 for another role."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if principal is None:
            raise LoginRequired
        if principal.role not in allowed:
            raise HTTPException(status_code=403, detail="your role may not open this page")
        return principal

    return dependency


def is_https(request: Request) -> bool:
    ctx = context_of(request)
    if ctx.settings.secure_cookies is not None:
        return ctx.settings.secure_cookies
    return request.url.scheme == "https"


def set_cookie(
    request: Request, response: Response, name: str, value: str, *, max_age: int
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=is_https(request),
        path="/",
    )


def _binding(request: Request) -> str | None:
    session = request.cookies.get(SESSION_COOKIE)
    if session and current_principal(request) is not None:
        return "session:" + session
    pre = getattr(request.state, "new_pre", None) or request.cookies.get(PRE_COOKIE)
    return "pre:" + pre if pre else None


def csrf_token(request: Request) -> str:
    """The CSRF token of this browser: an HMAC of its session (or pre-session) cookie."""
    binding = _binding(request)
    if binding is None:
        request.state.new_pre = secrets.token_urlsafe(24)
        binding = "pre:" + request.state.new_pre
    return hmac.new(context_of(request).session_key, binding.encode(), hashlib.sha256).hexdigest()


def check_csrf(request: Request, submitted: str | None) -> None:
    """403 unless the submitted token matches this browser's."""
    binding = _binding(request)
    given = submitted or request.headers.get(CSRF_HEADER) or ""
    if binding is None or not given:
        raise HTTPException(status_code=403, detail="missing CSRF token; reload the page")
    expected = hmac.new(context_of(request).session_key, binding.encode(), hashlib.sha256)
    if not hmac.compare_digest(expected.hexdigest(), given):
        raise HTTPException(status_code=403, detail="invalid CSRF token; reload the page")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
