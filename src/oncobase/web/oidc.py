"""OpenID Connect sign-in (Pro Santé Connect, FranceConnect or any provider) with Authlib.

Enabled when ``ONCOBASE_WEB_OIDC_METADATA_URL`` and ``ONCOBASE_WEB_OIDC_CLIENT_ID`` are set.
Authorization code flow: the provider's discovery document gives its endpoints; the state and
nonce travel in a short-lived signed cookie (itsdangerous); the code is exchanged with the
client secret (Authlib's httpx client); the ID token's signature (the provider's JWKS),
issuer, audience, nonce and expiry are checked with joserfc. A refused sign-in is audited
(``login.failed``) and answered with a plain message, never the token or the provider's text.
"""

from __future__ import annotations

import secrets
from typing import Any, NoReturn

import httpx
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from oncobase.api.accounts import create_session, find_or_create_oidc_user
from oncobase.api.context import WebContext
from oncobase.api.security import SESSION_COOKIE, context_of, set_cookie

_STATE_COOKIE = "oncobase_oidc"
_TIMEOUT = 10.0
#: Asymmetric signatures only: an ID token signed with a shared secret or "none" is refused.
ID_TOKEN_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384",
                       "EdDSA")  # fmt: skip


class OidcRefusedError(Exception):
    """The provider's answer cannot be trusted (the reason is for the audit log only)."""


def _metadata(url: str) -> dict[str, Any]:
    response = httpx.get(url, timeout=_TIMEOUT)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(data.get(key), str):
            raise OidcRefusedError(f"discovery document without {key}")
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
    """Verify the ID token's signature, issuer, audience, nonce and expiry (joserfc).

    Raises OidcRefusedError naming what failed.
    """
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        keys = KeySet.import_key_set(jwks)  # type: ignore[arg-type]
        token = jwt.decode(id_token, keys, algorithms=list(ID_TOKEN_ALGORITHMS))
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            nonce={"essential": True, "value": nonce},
            sub={"essential": True},
            exp={"essential": True},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise OidcRefusedError(f"ID token refused: {type(exc).__name__}") from None
    return dict(token.claims)


def _oauth_error() -> type[Exception]:
    from authlib.integrations.base_client import OAuthError  # type: ignore[import-untyped]

    error: type[Exception] = OAuthError
    return error


def _refuse(
    ctx: WebContext, settings_name: str, reason: str, status: int, message: str
) -> NoReturn:
    ctx.audit(None, "login.failed", actor=f"oidc:{settings_name}",
              detail={"via": settings_name, "reason": reason})  # fmt: skip
    raise HTTPException(status_code=status, detail=message)


def install_oidc(app: FastAPI) -> None:
    @app.get("/auth/oidc/login", include_in_schema=False)
    def oidc_login(request: Request) -> Response:
        ctx = context_of(request)
        settings = ctx.settings
        if not settings.oidc_enabled or settings.oidc_metadata_url is None:
            raise HTTPException(status_code=404, detail="OpenID Connect is not configured")
        try:
            meta = _metadata(settings.oidc_metadata_url)
        except (httpx.HTTPError, ValueError, OidcRefusedError) as exc:
            _refuse(ctx, settings.oidc_name, f"discovery: {type(exc).__name__}", 502,
                    "the identity provider cannot be reached; try again later")  # fmt: skip
        nonce = secrets.token_urlsafe(16)
        with _client()(
            settings.oidc_client_id,
            settings.oidc_client_secret,
            scope="openid profile email",
            redirect_uri=str(request.url_for("oidc_callback")),
        ) as client:
            url, state = client.create_authorization_url(
                meta["authorization_endpoint"], nonce=nonce
            )
        signer = URLSafeTimedSerializer(ctx.session_key, salt="oidc")
        response = RedirectResponse(url, status_code=303)
        set_cookie(request, response, _STATE_COOKIE, signer.dumps([state, nonce]), max_age=600)
        return response

    @app.get("/auth/oidc/callback", include_in_schema=False, name="oidc_callback")
    def oidc_callback(
        request: Request, code: str = "", state: str = "", error: str = ""
    ) -> Response:
        ctx = context_of(request)
        settings = ctx.settings
        name = settings.oidc_name
        if not settings.oidc_enabled or settings.oidc_metadata_url is None:
            raise HTTPException(status_code=404, detail="OpenID Connect is not configured")
        signer = URLSafeTimedSerializer(ctx.session_key, salt="oidc")
        try:
            expected_state, nonce = signer.loads(
                request.cookies.get(_STATE_COOKIE, ""), max_age=600
            )
        except BadSignature:
            raise HTTPException(status_code=400, detail="sign-in expired; try again") from None
        if not state or not secrets.compare_digest(state, str(expected_state)):
            _refuse(ctx, name, "state mismatch", 400, "state mismatch")
        if error or not code:
            _refuse(ctx, name, "no code", 401, "the identity provider refused the sign-in")
        try:
            meta = _metadata(settings.oidc_metadata_url)
            with _client()(
                settings.oidc_client_id,
                settings.oidc_client_secret,
                redirect_uri=str(request.url_for("oidc_callback")),
            ) as client:
                token = client.fetch_token(meta["token_endpoint"], code=code)
            jwks = httpx.get(meta["jwks_uri"], timeout=_TIMEOUT).raise_for_status().json()
        except _oauth_error():  # the token endpoint refused the code (or the client)
            _refuse(ctx, name, "token endpoint refused the code", 401,
                    "the identity provider refused the sign-in")  # fmt: skip
        except (httpx.HTTPError, ValueError, OidcRefusedError) as exc:
            _refuse(ctx, name, f"provider: {type(exc).__name__}", 502,
                    "the identity provider cannot be reached; try again later")  # fmt: skip
        try:
            id_token = token.get("id_token")
            if not isinstance(id_token, str):
                raise OidcRefusedError("no ID token in the token response")
            claims = _id_token_claims(
                id_token,
                jwks=jwks,
                issuer=str(meta["issuer"]),
                audience=str(settings.oidc_client_id),
                nonce=str(nonce),
            )
        except OidcRefusedError as exc:
            _refuse(
                ctx, name, str(exc), 401, "the identity provider's answer could not be verified"
            )
        principal = find_or_create_oidc_user(
            ctx.operational,
            subject=f"{name}:{claims['sub']}",
            username=str(claims.get("preferred_username") or claims.get("email") or claims["sub"]),
            default_role=settings.oidc_default_role,
        )
        if principal is None:
            _refuse(ctx, name, "account disabled", 403, "this account is disabled")
        session_token = create_session(ctx.operational, principal, hours=settings.session_hours)
        ctx.audit(principal, "login", detail={"via": name})
        response = RedirectResponse("/", status_code=303)
        response.delete_cookie(_STATE_COOKIE, path="/")
        set_cookie(
            request, response, SESSION_COOKIE, session_token,
            max_age=int(settings.session_hours * 3600),
        )  # fmt: skip
        return response
