"""Health, readiness, OpenAPI and the public pages on the real app and a real store."""

from __future__ import annotations

from tests.api._web import Web


def test_health_ready_and_openapi(web: Web) -> None:
    client = web.client()
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready").json()
    assert ready == {"status": "ready", "store": True, "operational": True}
    spec = client.get("/openapi.json").json()
    assert "/api/v1/open/incidence" in spec["paths"]
    assert "/api/v1/patients/{person_id}/timeline" in spec["paths"]


def test_public_pages_render_in_english_and_french(web: Web) -> None:
    client = web.client()
    for path in ("/", "/explorer", "/explorer?measure=survival", "/login"):
        page = client.get(path)
        assert page.status_code == 200, path
        assert 'lang="en"' in page.text
    french = client.get("/?lang=fr")
    assert "Tableau de bord national" in french.text
    assert client.cookies.get("oncobase_lang") == "fr"
    assert "Explorateur statistique" in client.get("/explorer").text  # remembered


def test_plotly_and_script_served_locally(web: Web) -> None:
    client = web.client()
    plotly = client.get("/static/plotly.min.js")
    assert plotly.status_code == 200 and len(plotly.content) > 1_000_000
    assert client.get("/static/oncobase.js").status_code == 200
    page = client.get("/explorer")
    assert "https://" not in page.text.split("<main")[0]  # no CDN in the head
    assert "script-src 'self'" in page.headers["content-security-policy"]


def test_explorer_state_round_trips_through_the_url(web: Web) -> None:
    client = web.client()
    page = client.get("/explorer?group_by=year&series=sex&year_from=2016&standard=world")
    assert page.status_code == 200
    assert "group_by=year" in page.text and "series=sex" in page.text
    assert "standard=world" in page.text and "year_from=2016" in page.text
    partial = client.get("/explorer?group_by=year&partial=1")
    assert "<html" not in partial.text and "share-link" in partial.text


def test_every_table_downloads_as_csv(web: Web) -> None:
    client = web.client()
    csv = client.get("/explorer?group_by=sex&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0] == "sex,all,total"
    assert client.get("/explorer?measure=survival&format=csv").text.startswith("site_group,")
    assert client.get("/?download=trend").text.startswith("year,")
    assert client.get("/?download=sites").text.startswith("site_group,")
