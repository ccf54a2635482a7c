"""Pages per role on the real app: quality (no raw content), cohorts, audit, users."""

from __future__ import annotations

from typing import Any

from tests.api._web import Web, csrf_of

from oncobase.api.quality import cohorts_api


def test_quality_page_shows_reasons_never_raw_content(web: Web) -> None:
    client = web.login(web.client(), "data_steward")
    page = client.get("/quality")
    assert page.status_code == 200
    assert "invalid ICD-10 code" in page.text and "SECRET-RAW" not in page.text
    for kind in ("loads", "quarantine", "counts"):
        csv = client.get(f"/quality?download={kind}")
        assert csv.headers["content-type"].startswith("text/csv")
        assert "SECRET-RAW" not in csv.text
    api = client.get("/api/v1/quality").json()
    assert api["quarantine_reasons"] == {"invalid ICD-10 code": 1, "no birth date": 1}


def test_cohort_pages(web: Web) -> None:
    client = web.login(web.client(), "researcher")
    page = client.get("/cohorts")
    assert page.status_code == 200
    assert cohorts_api() is not None  # the cohorts domain is part of the platform
    assert client.get("/api/v1/cohorts").json()["available"] is True


def test_admin_adds_a_user_and_searches_the_audit(web: Web) -> None:
    admin = web.login(web.client(), "admin")
    token = csrf_of(admin, "/admin/users")
    response = admin.post(
        "/admin/users",
        data={"username": "alice", "role": "registry_analyst", "password": "correct horse",
              "csrf_token": token},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    assert "alice" in admin.get("/admin/users").text
    page = admin.get("/admin/audit?action=user.add")
    assert "user:alice" in page.text and "Hash chain intact" in page.text
    assert admin.get("/admin/audit?format=csv").text.startswith("seq,at,actor")


def test_every_measure_has_its_explorer_view(web: Web) -> None:
    client = web.client()
    for measure in ("incidence", "mortality", "prevalence", "survival"):
        page = client.get(f"/explorer?measure={measure}&group_by=sex")
        assert page.status_code == 200, measure
        assert f"measure={measure}" in page.text  # the share link keeps the view
        assert 'id="csv-link"' in page.text
        csv = client.get(f"/explorer?measure={measure}&group_by=sex&format=csv")
        assert csv.headers["content-type"].startswith("text/csv")
    prevalence = client.get("/explorer?measure=prevalence&group_by=site_group")
    assert 'class="chart"' in prevalence.text and "<caption>Prevalent cases</caption>" in (
        prevalence.text
    )
    assert "duration=5" in prevalence.text
    dashboard = client.get("/")
    assert dashboard.status_code == 200 and 'id="latest-year">2023<' in dashboard.text


def test_an_administrator_gives_a_staff_account_its_notification_address(web: Web) -> None:
    admin = web.login(web.client(), "admin")

    def add(**fields: str) -> Any:
        data = {"role": "researcher", "password": "x" * 12, **fields}
        data["csrf_token"] = csrf_of(admin, "/admin/users")
        return admin.post("/admin/users", data=data, follow_redirects=False)

    assert add(username="rita", email="rita@lab.example").status_code == 303
    assert "rita@lab.example" in admin.get("/admin/users").text
    refused = add(username="pat", role="patient", person_id="4", email="pat@home.example")
    assert refused.status_code == 400 and "keeps no e-mail address" in refused.text
    assert add(username="bad", email="not an address").status_code == 400
