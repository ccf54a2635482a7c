"""Access requests end to end through the real ASGI app (httpx TestClient): a researcher asks,
a steward asks for a change, the researcher amends, the steward approves, the researcher
downloads an extract holding only the permitted variables; after expiry the download is
refused. Every step audited, notified in-app and mailed through a real SMTP server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tests.api._web import csrf_of
from tests.share._workflow import (
    COHORT,
    DRAFT,
    FORBIDDEN_COLUMNS,
    SmtpSink,
    add_cohort,
    audit_actions,
    audit_entries,
    notifications_of,
    read_extract,
    smtp_sink,
)

from oncobase.api import WebSettings, create_app
from oncobase.api.accounts import add_user, create_api_token
from oncobase.config import get_settings
from oncobase.share.requests import now_utc
from oncobase.share.variables import BY_NAME
from oncobase.store.audit import verify_audit
from oncobase.store.operational import Permit

RITA, TOM, OLAF = "rita@lab.example", "tom@lab.example", "olaf@lab.example"
SAM = "sam@agency.example"
MEMBERS = list(range(1, 41))  # cohort members of the 60-person test store


@dataclass
class ShareApp:
    client: TestClient
    ops: sessionmaker[Session]
    tokens: dict[str, str]  # username → bearer token
    accounts: dict[str, tuple[str, str]]  # demo role → (username, password)
    sink: SmtpSink
    audit_key: bytes

    def as_(self, username: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[username]}"}


@pytest.fixture
def share_app(
    tmp_path: Path,
    built_store: Path,
    home: object,
    web_template: tuple[Path, dict[str, tuple[str, str]]],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[ShareApp]:
    template, accounts = web_template
    store = tmp_path / "store.duckdb"
    shutil.copy(built_store, store)  # the shared store stays untouched
    add_cohort(store, MEMBERS)
    shutil.copytree(template, tmp_path / "web-home")
    with smtp_sink() as sink:
        monkeypatch.setenv("ONCOBASE_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("ONCOBASE_SMTP_PORT", str(sink.port))
        monkeypatch.setenv("ONCOBASE_SMTP_FROM", "oncobase@test.example")
        get_settings(fresh=True)
        settings = WebSettings(
            home=tmp_path / "web-home", store_url=f"duckdb:///{store}", login_rate_per_minute=1000
        )
        app = create_app(settings)
        ops = app.state.web.operational
        tokens = {}
        for name, role in ((RITA, "researcher"), (TOM, "researcher"), (OLAF, "researcher"),
                           (SAM, "data_steward")):  # fmt: skip
            add_user(ops, name, role)
            tokens[name] = create_api_token(ops, name)
        for role in ("patient", "clinician", "researcher"):
            tokens[role] = create_api_token(ops, accounts[role][0])
        with TestClient(app) as client:
            yield ShareApp(client=client, ops=ops, tokens=tokens, accounts=accounts, sink=sink,
                           audit_key=app.state.web.audit_key)  # fmt: skip
        monkeypatch.delenv("ONCOBASE_SMTP_HOST")
        get_settings(fresh=True)


def _body(**changes: object) -> dict[str, object]:
    return {**DRAFT, "team": [TOM], **changes}


def test_request_change_amend_approve_download_then_expiry(share_app: ShareApp) -> None:
    c, s = share_app.client, share_app
    # 1. the researcher requests
    r = c.post("/api/v1/share/requests", json=_body(), headers=s.as_(RITA))
    assert r.status_code == 201, r.text
    request_id = r.json()["request_id"]
    assert r.json()["status"] == "submitted" and r.json()["team"] == [RITA, TOM]
    # 2. the steward asks for a change
    r = c.post(f"/api/v1/share/requests/{request_id}/review", headers=s.as_(SAM),
               json={"decision": "changes", "comment": "Drop sex; year precision is enough"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "changes_requested"
    # 3. the researcher amends
    variables = ["person.year_of_birth", "tumour.icd10", "death.date"]
    r = c.post(f"/api/v1/share/requests/{request_id}/amend", headers=s.as_(RITA),
               json=_body(variables=variables, date_precision="year", comment="Done"))  # fmt: skip
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["version"]) == ("submitted", 2)
    # 4. the steward approves: a permit with the exact variables and an expiry
    r = c.post(f"/api/v1/share/requests/{request_id}/review", headers=s.as_(SAM),
               json={"decision": "approve", "comment": "Approved"})  # fmt: skip
    assert r.status_code == 200, r.text
    assert [e["action"] for e in r.json()["events"]] == [
        "submitted", "changes_requested", "amended", "approved",
    ]  # fmt: skip
    permit_id = r.json()["permit_id"]
    permit = c.get(f"/api/v1/share/permits/{permit_id}", headers=s.as_(RITA)).json()
    assert permit["variables"] == variables and permit["valid"] and permit["cohort"] == COHORT
    assert permit["date_precision"] == "year" and len(permit["project_id"]) == 33
    # 5. the researcher builds and downloads an extract
    r = c.post(f"/api/v1/share/permits/{permit_id}/extracts", headers=s.as_(RITA))
    assert r.status_code == 201, r.text
    extract = r.json()
    assert extract["persons"] == len(MEMBERS)
    r = c.get(extract["download"], headers=s.as_(RITA))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert permit["project_id"] in r.headers["content-disposition"]
    content = read_extract(r.content)
    permitted = {BY_NAME[v].column for v in variables}
    released = {c for cols in content.columns.values() for c in cols}
    assert permitted <= released  # every permitted variable is there
    others = {v.column for v in BY_NAME.values()} - permitted
    assert not others & released, others & released  # no other variable
    assert released - permitted <= {"person_pseudonym", "condition_occurrence_id"}
    assert not FORBIDDEN_COLUMNS & released
    assert "person_id" not in content.text and "person_source_value" not in content.text
    # the same for the team's second member; a team outsider and the steward are refused
    assert c.get(extract["download"], headers=s.as_(TOM)).status_code == 200
    for outsider in (OLAF, SAM):
        r = c.get(extract["download"], headers=s.as_(outsider))
        assert r.status_code == 403 and "only its members" in r.json()["detail"]
    # 6. the clock moves past the expiry: the download is refused, with a clear message
    with s.ops.begin() as session:
        session.execute(update(Permit).where(Permit.permit_id == permit_id)
                        .values(expires_at=now_utc() - timedelta(seconds=1)))  # fmt: skip
    r = c.get(extract["download"], headers=s.as_(RITA))
    assert r.status_code == 403 and "expired" in r.json()["detail"]
    r = c.post(f"/api/v1/share/permits/{permit_id}/extracts", headers=s.as_(RITA))
    assert r.status_code == 403
    assert c.get(f"/api/v1/share/permits/{permit_id}", headers=s.as_(RITA)).json()["valid"] is False

    # every step audited
    assert audit_actions(s.ops, target=f"request:{request_id}") == [
        "share.request.submit", "share.request.changes_requested", "share.request.amend",
        "share.request.approve",
    ]  # fmt: skip
    assert [e.actor for e in audit_entries(s.ops, "share.extract.build")] == [RITA]
    assert [e.actor for e in audit_entries(s.ops, "share.download")] == [RITA, TOM]
    refused = audit_entries(s.ops, "share.download.refused")
    assert [(e.actor, '"expired"' in e.detail) for e in refused] == [
        (OLAF, False), (SAM, False), (RITA, True),
    ]  # fmt: skip
    assert verify_audit(s.ops, s.audit_key).ok
    # every step notified in-app …
    in_app = c.get("/api/v1/share/notifications", headers=s.as_(RITA)).json()
    subjects = [n["subject"] for n in in_app]
    assert any("needs changes" in t for t in subjects) and any("approved" in t for t in subjects)
    assert any("extract" in t for t in subjects)
    assert all(n["emailed"] for n in in_app)
    steward_subjects = [n.subject for n in notifications_of(s.ops, SAM)]
    assert len(steward_subjects) == 2 and "amended" in steward_subjects[1]
    # … and mailed through the SMTP server
    for member in (RITA, TOM):
        mailed = [m.message["Subject"] for m in s.sink.to(member)]
        assert mailed == [n.subject for n in notifications_of(s.ops, member)], member
        assert len(mailed) == 3
    assert [m.message["Subject"] for m in s.sink.to(SAM)] == steward_subjects
    assert s.sink.to(OLAF) == []
    assert all(m.sender == "oncobase@test.example" for m in s.sink.mails)
    r = c.post("/api/v1/share/notifications/read", json={}, headers=s.as_(RITA))
    assert r.json()["marked"] == len(in_app)


def test_who_sees_and_reviews_requests(share_app: ShareApp) -> None:
    c, s = share_app.client, share_app
    r = c.post("/api/v1/share/requests", json=_body(), headers=s.as_(RITA))
    request_id = r.json()["request_id"]
    # patients and clinicians cannot see requests at all
    for role in ("patient", "clinician"):
        assert c.get("/api/v1/share/requests", headers=s.as_(role)).status_code == 403
        assert c.get(f"/api/v1/share/requests/{request_id}", headers=s.as_(role)).status_code == 403
    # a researcher outside the team neither sees nor reviews it
    assert c.get(f"/api/v1/share/requests/{request_id}", headers=s.as_(OLAF)).status_code == 403
    assert c.get("/api/v1/share/requests", headers=s.as_(OLAF)).json() == []
    for who in (OLAF, RITA):
        r = c.post(f"/api/v1/share/requests/{request_id}/review", headers=s.as_(who),
                   json={"decision": "approve"})  # fmt: skip
        assert r.status_code == 403
    assert [
        x["request_id"] for x in c.get("/api/v1/share/requests", headers=s.as_(SAM)).json()
    ] == [request_id]
    # amending before any change request is a conflict; a bad draft names its problems
    r = c.post(f"/api/v1/share/requests/{request_id}/amend", headers=s.as_(RITA), json=_body())
    assert r.status_code == 409
    r = c.post("/api/v1/share/requests", headers=s.as_(RITA),
               json=_body(variables=["person.nir"], date_precision="hour"))  # fmt: skip
    assert r.status_code == 400 and "'person.nir'" in r.json()["detail"]
    assert "'hour'" in r.json()["detail"]
    assert c.get("/api/v1/share/requests/999", headers=s.as_(SAM)).status_code == 404
    for path in ("requests", "permits", "releases", "extracts"):
        huge = f"/api/v1/share/{path}/{10**30}" + ("/download" if path == "extracts" else "")
        assert c.get(huge, headers=s.as_(SAM)).status_code == 404, path
    assert c.get("/api/v1/share/requests").status_code == 401


def test_csrf_on_every_cookie_write(share_app: ShareApp) -> None:
    c, s = share_app.client, share_app
    username, password = s.accounts["researcher"]
    token = csrf_of(c, "/login")
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token},
               follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    # the JSON API with the session cookie needs the CSRF header
    r = c.post("/api/v1/share/requests", json=_body(team=[]))
    assert r.status_code == 403 and "CSRF" in r.json()["detail"]
    token = csrf_of(c, "/share/requests/new")
    r = c.post("/api/v1/share/requests", json=_body(team=[]), headers={"X-CSRF-Token": "0" * 64})
    assert r.status_code == 403
    r = c.post("/api/v1/share/requests", json=_body(team=[]), headers={"X-CSRF-Token": token})
    assert r.status_code == 201
    request_id = r.json()["request_id"]
    # and every page form
    form = {**{k: str(v) for k, v in DRAFT.items() if k != "variables"},
            "variables": DRAFT["variables"]}  # fmt: skip
    posts = [
        ("/share/requests", form),
        (f"/share/requests/{request_id}/amend", form),
        ("/share/notifications/read", {}),
        ("/share/releases", {"permit_id": "1", "title": "t", "table": "a,b\nx,1"}),
        ("/share/permits/1/extracts", {}),
    ]
    for path, data in posts:
        r = c.post(path, data=data, follow_redirects=False)
        assert r.status_code == 403, path  # the researcher's role may do each of these
    r = c.post("/share/requests", data={**form, "csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/share/requests/")
    mine = c.get(
        "/api/v1/share/requests", headers={"Authorization": f"Bearer {s.tokens['researcher']}"}
    )
    assert len(mine.json()) == 2


def test_optouts_patient_for_themselves_clinician_for_a_patient(share_app: ShareApp) -> None:
    c, s = share_app.client, share_app
    r = c.post("/api/v1/share/optouts", json={}, headers=s.as_("patient"))
    assert r.status_code == 201 and r.json()["active"] and r.json()["channel"] == "patient"
    own = r.json()["person_id"]
    r = c.post("/api/v1/share/optouts", json={"person_id": own + 1}, headers=s.as_("patient"))
    assert r.status_code == 403
    r = c.post("/api/v1/share/optouts", json={"person_id": 5}, headers=s.as_("clinician"))
    assert r.status_code == 201 and r.json()["channel"] == "clinician"
    r = c.post("/api/v1/share/optouts", json={"person_id": 999_999}, headers=s.as_("clinician"))
    assert r.status_code == 404
    r = c.post("/api/v1/share/optouts", json={"person_id": 5}, headers=s.as_(RITA))
    assert r.status_code == 403
    assert audit_actions(s.ops, target=f"person:{own}") == ["share.optout.record"]
    assert audit_actions(s.ops, target="person:5") == ["share.optout.record"]
    # the next extract leaves both out
    r = c.post("/api/v1/share/requests", json=_body(), headers=s.as_(RITA))
    rid = r.json()["request_id"]
    r = c.post(f"/api/v1/share/requests/{rid}/review", headers=s.as_(SAM),
               json={"decision": "approve"})  # fmt: skip
    r = c.post(f"/api/v1/share/permits/{r.json()['permit_id']}/extracts", headers=s.as_(RITA))
    expected = len(set(MEMBERS) - {own, 5})
    assert r.status_code == 201 and r.json()["persons"] == expected


def test_release_through_the_api(share_app: ShareApp) -> None:
    c, s = share_app.client, share_app
    r = c.post("/api/v1/share/requests", json=_body(), headers=s.as_(RITA))
    rid = r.json()["request_id"]
    r = c.post(f"/api/v1/share/requests/{rid}/review", headers=s.as_(SAM),
               json={"decision": "approve"})  # fmt: skip
    permit_id = r.json()["permit_id"]
    table = {"permit_id": permit_id, "title": "Deaths by year", "rows": ["C34", "C50"],
             "columns": ["2022", "2023"], "cells": [[40, 3], [25, 30]]}  # fmt: skip
    assert c.post("/api/v1/share/releases", json=table, headers=s.as_(OLAF)).status_code == 403
    r = c.post("/api/v1/share/releases", json=table, headers=s.as_(RITA))
    assert r.status_code == 201
    release_id = r.json()["release_id"]
    assert r.json()["table"]["cells"][0][1] is None  # 3 < 11: suppressed before review
    assert c.get(f"/api/v1/share/releases/{release_id}/csv", headers=s.as_(RITA)).status_code == 409
    r = c.post(f"/api/v1/share/releases/{release_id}/review", headers=s.as_(RITA),
               json={"decision": "approve"})  # fmt: skip
    assert r.status_code == 403
    r = c.post(f"/api/v1/share/releases/{release_id}/review", headers=s.as_(SAM),
               json={"decision": "approve"})  # fmt: skip
    assert r.json()["status"] == "approved"
    r = c.get(f"/api/v1/share/releases/{release_id}/csv", headers=s.as_(RITA))
    assert r.status_code == 200 and r.text.splitlines()[1].startswith("C34,")
    assert ",3," not in r.text


def test_pages_keep_what_was_typed_and_name_the_problem(share_app: ShareApp) -> None:
    c, s = share_app.client, share_app
    for role in ("patient", "clinician"):
        assert c.get("/share", headers=s.as_(role)).status_code == 403
        assert c.get("/share/requests/new", headers=s.as_(role)).status_code == 403
    web = s.client
    username, password = s.accounts["researcher"]
    token = csrf_of(web, "/login")
    web.post("/login", data={"username": username, "password": password, "csrf_token": token})
    token = csrf_of(web, "/share/requests/new")
    form = {**{k: str(v) for k, v in DRAFT.items() if k != "variables"},
            "variables": ["person.sex"], "title": "My unique title", "duration_days": "0",
            "csrf_token": token}  # fmt: skip
    r = web.post("/share/requests", data=form)
    assert r.status_code == 400
    assert "duration must be 1 to" in r.text and "My unique title" in r.text
    assert 'value="person.sex" checked' in r.text
    # a release with a malformed table: the table comes back with the line named
    r = web.post("/api/v1/share/requests", json=_body(team=[]), headers={"X-CSRF-Token": token})
    rid = r.json()["request_id"]
    r = c.post(f"/api/v1/share/requests/{rid}/review", headers=s.as_(SAM),
               json={"decision": "approve"})  # fmt: skip
    permit_id = r.json()["permit_id"]
    page = web.get("/share/releases")
    assert f'<option value="{permit_id}"' in page.text
    table = "site,2022,2023\nC34,40,oops"
    r = web.post("/share/releases", data={"permit_id": str(permit_id), "title": "Deaths",
                                          "table": table, "csrf_token": token})  # fmt: skip
    assert r.status_code == 400 and "line 2: counts are whole numbers" in r.text
    assert "C34,40,oops" in r.text
    r = web.post("/share/releases", data={"permit_id": str(permit_id), "title": "Deaths",
                                          "table": "site,2022\nC34,40\nC50,4",
                                          "csrf_token": token},
                 follow_redirects=False)  # fmt: skip
    assert r.status_code == 303
    page = web.get(r.headers["location"])
    assert "&lt;11*" in page.text and ">4<" not in page.text
    overview = web.get("/share")
    assert overview.status_code == 200 and f"Permit {permit_id}" in overview.text
