"""OpenID Connect sign-in against a real provider listening on 127.0.0.1.

The provider is an external system, so the test writes a small one (Starlette served by
uvicorn in a thread, ID tokens signed with joserfc): discovery, authorization endpoint, token
endpoint with client authentication, JWKS. Our side runs for real: the app makes its own HTTP
calls to the provider, exchanges the code, verifies the ID token and creates the account.
"""

from __future__ import annotations

import base64
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
import uvicorn
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from oncobase.api import WebSettings, create_app
from oncobase.api.accounts import disable_user
from oncobase.store.audit import search_audit, verify_audit

CLIENT_ID = "oncobase-test"
CLIENT_SECRET = "s3cret-of-the-client"


@dataclass
class Provider:
    """A minimal OpenID provider; ``mode`` makes it misbehave on purpose."""

    port: int
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "good"}))
    other_key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, {"kid": "good"}))
    mode: str = "ok"
    subject: str = "user-42"
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def app(self) -> Starlette:
        async def discovery(_request: Request) -> Response:
            return JSONResponse({
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })  # fmt: skip

        async def authorize(request: Request) -> Response:
            q = request.query_params
            if q.get("client_id") != CLIENT_ID or q.get("response_type") != "code":
                return JSONResponse({"error": "invalid_request"}, status_code=400)
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"nonce": q.get("nonce", ""), "redirect_uri": q["redirect_uri"],
                                "scope": q.get("scope", "")}  # fmt: skip
            target = q["redirect_uri"] + "?" + urlencode({"code": code, "state": q["state"]})
            return RedirectResponse(target, status_code=302)

        async def token(request: Request) -> Response:
            form = dict(await request.form())
            self.token_requests.append({k: str(v) for k, v in form.items()})
            auth = request.headers.get("authorization", "")
            expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
            if auth != f"Basic {expected}":
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            grant = self.codes.pop(str(form.get("code")), None)  # a code is used once
            if grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
                return JSONResponse({"error": "invalid_grant"}, status_code=400)
            now = int(time.time())
            claims = {
                "iss": self.issuer,
                "sub": self.subject,
                "aud": "someone-else" if self.mode == "wrong_audience" else CLIENT_ID,
                "nonce": "not-the-nonce" if self.mode == "wrong_nonce" else grant["nonce"],
                "iat": now,
                "exp": now - 60 if self.mode == "expired" else now + 300,
                "preferred_username": "alice.martin",
                "email": "alice@example.org",
            }
            key = self.other_key if self.mode == "wrong_signature" else self.key
            id_token = jwt.encode({"alg": "RS256", "kid": "good"}, claims, key)
            return JSONResponse({"access_token": secrets.token_urlsafe(16),
                                 "token_type": "Bearer", "expires_in": 300,
                                 "id_token": id_token})  # fmt: skip

        async def jwks(_request: Request) -> Response:
            return JSONResponse(KeySet([self.key]).as_dict(private=False))

        return Starlette(routes=[
            Route("/.well-known/openid-configuration", discovery),
            Route("/authorize", authorize),
            Route("/token", token, methods=["POST"]),
            Route("/jwks", jwks),
        ])  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    idp = Provider(port=_free_port())
    server = uvicorn.Server(
        uvicorn.Config(idp.app(), host="127.0.0.1", port=idp.port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the test provider did not start"
        time.sleep(0.05)
    yield idp
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def web(tmp_path: Path, home: object, provider: Provider) -> Iterator[tuple[TestClient, object]]:
    provider.mode = "ok"
    settings = WebSettings(
        home=tmp_path / "web-home",
        store_url=f"duckdb:///{tmp_path / 'store.duckdb'}",
        oidc_name="testidp",
        oidc_metadata_url=f"{provider.issuer}/.well-known/openid-configuration",
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
        oidc_default_role="registry_analyst",
    )
    app = create_app(settings)
    with TestClient(app) as client:
        yield client, app.state.web


def _sign_in(client: TestClient) -> httpx.Response:
    """Browser steps: our login → the provider's authorize page → back to our callback."""
    start = client.get("/auth/oidc/login", follow_redirects=False)
    assert start.status_code == 303, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    assert at_provider.status_code == 302, at_provider.text
    back = urlsplit(at_provider.headers["location"])
    assert back.path == "/auth/oidc/callback"
    done: httpx.Response = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    return done


def test_sign_in_through_the_provider(web: tuple[TestClient, object], provider: Provider) -> None:
    client, ctx = web
    start = client.get("/auth/oidc/login", follow_redirects=False)
    sent = parse_qs(urlsplit(start.headers["location"]).query)
    assert start.headers["location"].startswith(f"{provider.issuer}/authorize?")
    assert sent["client_id"] == [CLIENT_ID] and sent["response_type"] == ["code"]
    assert "openid" in sent["scope"][0].split()
    assert sent["redirect_uri"] == ["http://testserver/auth/oidc/callback"]
    assert len(sent["nonce"][0]) >= 16 and len(sent["state"][0]) >= 16
    assert client.get("/api/v1/me").status_code == 401

    done = _sign_in(client)
    assert done.status_code == 303 and done.headers["location"] == "/"
    me = client.get("/api/v1/me").json()
    assert me == {"username": "alice.martin", "role": "registry_analyst"}
    exchange = provider.token_requests[-1]
    assert exchange["grant_type"] == "authorization_code"
    assert "client_secret" not in exchange  # sent in the Authorization header
    logins = search_audit(ctx.operational, action="login")  # type: ignore[attr-defined]
    assert logins[0].actor == "alice.martin" and "testidp" in logins[0].detail
    assert verify_audit(ctx.operational, ctx.audit_key).ok  # type: ignore[attr-defined]

    # a second sign-in finds the same account (no duplicate)
    client.cookies.clear()
    assert _sign_in(client).status_code == 303
    assert client.get("/api/v1/me").json()["username"] == "alice.martin"


@pytest.mark.parametrize("mode", ["wrong_signature", "wrong_audience", "wrong_nonce", "expired"])
def test_a_bad_id_token_is_refused(
    web: tuple[TestClient, object], provider: Provider, mode: str
) -> None:
    client, ctx = web
    provider.mode = mode
    refused = _sign_in(client)
    assert refused.status_code == 401
    assert "could not be verified" in refused.text
    assert "eyJ" not in refused.text  # no token echoed back
    assert "oncobase_session" not in refused.headers.get("set-cookie", "")
    assert client.get("/api/v1/me").status_code == 401
    failed = search_audit(ctx.operational, action="login.failed")  # type: ignore[attr-defined]
    assert failed and "ID token refused" in failed[0].detail
    assert not search_audit(ctx.operational, action="login")  # type: ignore[attr-defined]


def test_forged_state_and_replayed_code_are_refused(
    web: tuple[TestClient, object], provider: Provider
) -> None:
    client, _ = web
    start = client.get("/auth/oidc/login", follow_redirects=False)
    at_provider = httpx.get(start.headers["location"], follow_redirects=False, timeout=10)
    back = urlsplit(at_provider.headers["location"])
    code = parse_qs(back.query)["code"][0]
    forged = client.get("/auth/oidc/callback", params={"code": code, "state": "forged"})
    assert forged.status_code == 400 and "state mismatch" in forged.text
    ok = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert ok.status_code == 303
    again = client.get(f"{back.path}?{back.query}", follow_redirects=False)
    assert again.status_code == 400  # the state cookie is spent with its sign-in
    # the same code under a fresh state: the provider refuses it, and so do we
    client.cookies.clear()
    fresh = client.get("/auth/oidc/login", follow_redirects=False)
    state = parse_qs(urlsplit(fresh.headers["location"]).query)["state"][0]
    replay = client.get("/auth/oidc/callback", params={"code": code, "state": state})
    assert replay.status_code == 401 and "refused the sign-in" in replay.text
    assert client.cookies.get("oncobase_session") is None


def test_a_disabled_account_cannot_sign_in(
    web: tuple[TestClient, object], provider: Provider
) -> None:
    client, ctx = web
    assert _sign_in(client).status_code == 303
    disable_user(ctx.operational, "alice.martin")  # type: ignore[attr-defined]
    client.cookies.clear()
    assert _sign_in(client).status_code == 403


def test_an_unreachable_provider_is_a_clear_error(tmp_path: Path, home: object) -> None:
    settings = WebSettings(
        home=tmp_path / "web-home",
        store_url=f"duckdb:///{tmp_path / 'store.duckdb'}",
        oidc_metadata_url=f"http://127.0.0.1:{_free_port()}/.well-known/openid-configuration",
        oidc_client_id=CLIENT_ID,
    )
    with TestClient(create_app(settings)) as client:
        response = client.get("/auth/oidc/login", follow_redirects=False)
    assert response.status_code == 502 and "cannot be reached" in response.text
