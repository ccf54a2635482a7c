"""Security: CSRF, session fixation, cookie flags, lockout, roles, patient A vs B, tokens."""

from __future__ import annotations

from tests.api._web import Web, csrf_of


def test_form_without_csrf_token_is_rejected(web: Web) -> None:
    client = web.client()
    client.get("/login")
    username, password = web.accounts["admin"]
    response = client.post("/login", data={"username": username, "password": password})
    assert response.status_code == 403
    forged = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": "0" * 64}
    )
    assert forged.status_code == 403
    admin = web.login(web.client(), "admin")
    added = admin.post(
        "/admin/users", data={"username": "mallory", "role": "admin", "password": "x" * 12}
    )
    assert added.status_code == 403  # signed in, but no token: still rejected
    assert "mallory" not in admin.get("/admin/users").text


def test_session_id_changes_at_sign_in_and_dies_at_sign_out(web: Web) -> None:
    client = web.client()
    client.cookies.set("oncobase_session", "attacker-chosen-id", domain="testserver.local")
    web.login(client, "clinician")
    session = client.cookies.get("oncobase_session")
    assert session and session != "attacker-chosen-id"
    assert client.get("/api/v1/me").json()["role"] == "clinician"
    token = csrf_of(client, "/")
    client.post("/logout", data={"csrf_token": token})
    replay = web.client()
    replay.cookies.set("oncobase_session", session, domain="testserver.local")
    assert replay.get("/api/v1/me").status_code == 401


def test_cookie_flags(web: Web) -> None:
    username, password = web.accounts["researcher"]
    for https in (False, True):
        client = web.client(https=https)
        token = csrf_of(client, "/login")
        response = client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            follow_redirects=False,
        )
        header = response.headers["set-cookie"].lower()
        assert "oncobase_session=" in header
        assert "httponly" in header and "samesite=lax" in header
        assert ("secure" in header) is https


def test_lockout_after_repeated_failures(web: Web) -> None:
    client = web.client()
    username, password = web.accounts[
        "analyst" if "analyst" in web.accounts else "registry_analyst"
    ]
    for _ in range(web.settings.login_max_failures):  # type: ignore[attr-defined]
        token = csrf_of(client, "/login")
        client.post(
            "/login", data={"username": username, "password": "wrong-pass", "csrf_token": token}
        )
    token = csrf_of(client, "/login")
    locked = client.post(
        "/login", data={"username": username, "password": password, "csrf_token": token}
    )
    assert locked.status_code == 401 and "locked" in locked.text


def test_login_rate_limit(web: Web) -> None:
    web.settings.login_rate_per_minute = 3  # type: ignore[attr-defined]
    client = web.client()
    statuses = []
    for _ in range(5):
        token = csrf_of(client, "/login")
        statuses.append(
            client.post(
                "/login", data={"username": "nobody", "password": "whatever1", "csrf_token": token}
            ).status_code
        )
    assert statuses[-1] == 429


def test_roles_guard_clinical_pages(web: Web) -> None:
    anonymous = web.client()
    assert anonymous.get("/patients/1", follow_redirects=False).status_code == 303
    assert anonymous.get("/api/v1/patients/1/timeline").status_code == 401
    for role in ("researcher", "patient", "registry_analyst", "data_steward", "admin"):
        client = web.login(web.client(), role)
        assert client.get("/patients/1").status_code == 403, role
        assert client.get("/api/v1/patients/1/timeline").status_code == 403, role
    for role in ("researcher", "patient", "clinician"):
        client = web.login(web.client(), role)
        assert client.get("/quality").status_code == 403
        assert client.get("/admin/audit").status_code == 403


def test_clinician_reads_a_timeline_and_it_is_audited(web: Web) -> None:
    client = web.login(web.client(), "clinician")
    person = client.get("/patients").text.split('href="/patients/')[1].split('"')[0]
    page = client.get(f"/patients/{person}")
    assert page.status_code == 200 and "diagnos" in page.text
    api = client.get(f"/api/v1/patients/{person}/timeline").json()
    assert api["person_id"] == int(person) and api["events"]
    csv = client.get(f"/patients/{person}?format=csv")
    assert csv.text.startswith("date,kind,code")
    admin = web.login(web.client(), "admin")
    reads = admin.get("/api/v1/audit", params={"action": "record.read"}).json()
    assert {r["target"] for r in reads} == {f"person:{person}"}
    assert len(reads) == 3 and {r["actor"] for r in reads} == {"demo-clinician"}


def test_patient_reads_own_record_only(web: Web) -> None:
    a = web.login(web.client(), "patient")
    own = a.get("/api/v1/me/record").json()
    b = web.login(web.client(), "patient_b")
    other = b.get("/api/v1/me/record").json()
    assert own["person_id"] != other["person_id"]
    assert a.get(f"/api/v1/patients/{other['person_id']}/timeline").status_code == 403
    assert a.get(f"/patients/{other['person_id']}").status_code == 403
    assert a.get("/me/record").status_code == 200


def test_api_token_for_scripts(web: Web) -> None:
    admin = web.login(web.client(), "admin")
    token_page = admin.post(
        "/account/token", data={"label": "nightly", "csrf_token": csrf_of(admin, "/admin/users")}
    )
    token = token_page.text.split('<code id="token">')[1].split("<")[0]
    script = web.client()
    assert (
        script.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()["role"]
        == "admin"
    )
    assert (
        script.get("/api/v1/me", headers={"Authorization": "Bearer obt_forged"}).status_code == 401
    )


def test_disabled_user_loses_access(web: Web) -> None:
    admin = web.login(web.client(), "admin")
    researcher = web.login(web.client(), "researcher")
    username = web.accounts["researcher"][0]
    token = csrf_of(admin, "/admin/users")
    admin.post(f"/admin/users/{username}/disable", data={"csrf_token": token})
    assert researcher.get("/api/v1/me").status_code == 401
