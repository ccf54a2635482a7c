"""OpenID Connect sign-in (Pro Santé Connect, FranceConnect or any provider) with Authlib.

Enabled when ``ONCOBASE_WEB_OIDC_METADATA_URL`` and ``ONCOBASE_WEB_OIDC_CLIENT_ID`` are set.
The state and nonce travel in a short-lived signed cookie (itsdangerous).
"""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from oncobase.api.accounts import find_or_create_oidc_user
from oncobase.api.security import SESSION_COOKIE, context_of, set_cookie

_STATE_COOKIE = "oncobase_oidc"


def _metadata(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=10)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _client() -> Any:
    """Authlib's OAuth 2 client (imported only when OpenID Connect is used)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from authlib.integrations.httpx_client import (  # type: ignore[import-untyped]
            OAuth2Client,
        )
    return OAuth2Client


def _id_token_claims(
    id_token: str, *, jwks: dict[str, Any], issuer: str, audience: str, nonce: str
) -> dict[str, Any]:
    """Verify the ID token's signature, issuer, audience, nonce and expiry (joserfc)."""
    from joserfc import jwt
    from joserfc.jwk import KeySet

    token = jwt.decode(id_token, KeySet.import_key_set(jwks))  # type: ignore[arg-type]
    registry = jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": audience},
        nonce={"essential": True, "value": nonce},
        exp={"essential": True},
    )
    registry.validate(token.claims)
    return dict(token.claims)


def install_oidc(app: FastAPI) -> None:
    @app.get("/auth/oidc/login", include_in_schema=False)
    def oidc_login(request: Request) -> Response:
        settings = context_of(request).settings
        if not settings.oidc_enabled or settings.oidc_metadata_url is None:
            raise HTTPException(status_code=404, detail="OpenID Connect is not configured")
        meta = _metadata(settings.oidc_metadata_url)
        client = _client()(
            settings.oidc_client_id,
            settings.oidc_client_secret,
            scope="openid profile email",
            redirect_uri=str(request.url_for("oidc_callback")),
        )
        nonce = secrets.token_urlsafe(16)
        url, state = client.create_authorization_url(meta["authorization_endpoint"], nonce=nonce)
        signer = URLSafeTimedSerializer(context_of(request).session_key, salt="oidc")
        response = RedirectResponse(url, status_code=303)
        set_cookie(request, response, _STATE_COOKIE, signer.dumps([state, nonce]), max_age=600)
        return response

    @app.get("/auth/oidc/callback", include_in_schema=False, name="oidc_callback")
    def oidc_callback(request: Request, code: str = "", state: str = "") -> Response:
        ctx = context_of(request)
        settings = ctx.settings
        if not settings.oidc_enabled or settings.oidc_metadata_url is None:
            raise HTTPException(status_code=404, detail="OpenID Connect is not configured")
        signer = URLSafeTimedSerializer(ctx.session_key, salt="oidc")
        try:
            expected_state, nonce = signer.loads(
                request.cookies.get(_STATE_COOKIE, ""), max_age=600
            )
        except BadSignature:
            raise HTTPException(status_code=400, detail="sign-in expired; try again") from None
        if not state or state != expected_state:
            raise HTTPException(status_code=400, detail="state mismatch")
        meta = _metadata(settings.oidc_metadata_url)
        client = _client()(
            settings.oidc_client_id,
            settings.oidc_client_secret,
            redirect_uri=str(request.url_for("oidc_callback")),
        )
        token = client.fetch_token(meta["token_endpoint"], code=code)
        claims = _id_token_claims(
            token["id_token"],
            jwks=httpx.get(meta["jwks_uri"], timeout=10).json(),
            issuer=meta["issuer"],
            audience=str(settings.oidc_client_id),
            nonce=nonce,
        )
        principal = find_or_create_oidc_user(
            ctx.operational,
            subject=f"{settings.oidc_name}:{claims['sub']}",
            username=str(claims.get("preferred_username") or claims.get("email") or claims["sub"]),
            default_role=settings.oidc_default_role,
        )
        if principal is None:
            raise HTTPException(status_code=403, detail="this account is disabled")
        from oncobase.api.accounts import create_session

        session_token = create_session(ctx.operational, principal, hours=settings.session_hours)
        ctx.audit(principal, "login", detail={"via": settings.oidc_name})
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(_STATE_COOKIE, path="/")
        set_cookie(
            request, response, SESSION_COOKIE, session_token,
            max_age=int(settings.session_hours * 3600),
        )  # fmt: skip
        return response
