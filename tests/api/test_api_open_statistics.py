"""The open aggregate API: no sign-in, small cells suppressed, hostile filters harmless."""

from __future__ import annotations

import pytest
from tests.api._web import Web, published_counts

INJECTIONS = [
    "' OR '1'='1",
    "1; DROP TABLE person; --",
    '" OR 1=1 --',
    "C50') UNION SELECT person_id, 1 FROM person --",
    "%27%20OR%201=1",
    "\x00",
    "$1",
    "../../etc/passwd",
]
FILTERS = ["site", "sex", "age_group", "departement", "region", "group_by", "series",
           "standard", "year_from", "year_to", "measure", "duration"]  # fmt: skip
PATHS = ["/api/v1/open/incidence", "/api/v1/open/mortality", "/api/v1/open/prevalence",
         "/explorer", "/api/v1/open/survival"]  # fmt: skip


@pytest.mark.parametrize("measure", ["incidence", "mortality", "prevalence"])
@pytest.mark.parametrize("group_by", ["site_group", "sex", "age_group", "year", "region"])
def test_no_count_under_eleven_leaves(web: Web, group_by: str, measure: str) -> None:
    client = web.client()
    response = client.get(f"/api/v1/open/{measure}", params={"group_by": group_by, "series": "sex"}
                          if group_by != "sex" else {"group_by": group_by})  # fmt: skip
    assert response.status_code == 200
    body = response.json()
    assert all(v == 0 or v >= 11 for v in published_counts(body))
    assert body["min_cell"] == 11
    assert body["note"].startswith("no population")


def test_csv_of_the_open_api(web: Web) -> None:
    response = web.client().get("/api/v1/open/incidence?group_by=sex&format=csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert response.text.startswith("sex,all,total")


def test_dimensions_and_survival(web: Web) -> None:
    client = web.client()
    dims = client.get("/api/v1/open/dimensions").json()
    assert "breast" in dims["site_groups"] or dims["site_groups"]
    assert "84" in dims["regions"]
    rows = client.get("/api/v1/open/survival").json()
    for row in rows:
        assert row["cases"] is None or row["cases"] >= 11


def test_unknown_filter_values_are_rejected_cleanly(web: Web) -> None:
    client = web.client()
    response = client.get("/api/v1/open/incidence?group_by=person_id")
    assert response.status_code == 422
    page = client.get("/explorer?site=nowhere")
    assert page.status_code == 400 and "unknown site group" in page.text


@pytest.mark.parametrize("name", FILTERS)
def test_sql_injection_in_every_filter_is_harmless(web: Web, name: str) -> None:
    client = web.client()
    for attack in INJECTIONS:
        for path in PATHS:
            response = client.get(path, params={name: attack})
            assert response.status_code < 500, (path, name, attack)
            text = response.text.lower()
            assert "traceback" not in text and "duckdb" not in text and "syntax" not in text
            assert "person_id" not in text
    # and the store is intact
    assert client.get("/api/v1/open/incidence?group_by=sex").json()["total"] > 0
