"""The data catalogue through the real app: JSON-LD at its stable URL and in the API, no sign-in,
the file of the pipeline preferred, and the browse/search/detail pages."""

from __future__ import annotations

from typing import Any

from tests.api._web import Web

from oncobase.share.catalogue import (
    CATALOGUE_FILE,
    CatalogueOptions,
    build_catalogue,
    write_catalogue,
)
from oncobase.share.catalogue_check import validate_catalogue
from oncobase.store import connect

BASE = "http://127.0.0.1:8000"  # the default ONCOBASE_PUBLIC_URL


def _without_stamp(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "dct:modified"}


def test_catalogue_jsonld_at_its_stable_url_without_sign_in(web: Web) -> None:
    client = web.client()
    response = client.get("/catalogue.jsonld")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    doc = response.json()
    assert validate_catalogue(doc) == []
    assert doc["@id"] == f"{BASE}/catalogue"
    ids = [n["@id"].removeprefix(f"{BASE}/catalogue/datasets/") for n in doc["dcat:dataset"]]
    assert {"omop-person", "omop-condition_occurrence", "cohort-lung", "stats-incidence"} <= set(
        ids
    )
    api = client.get("/api/v1/catalogue")
    assert api.status_code == 200
    assert api.headers["content-type"].startswith("application/ld+json")
    assert _without_stamp(api.json()) == _without_stamp(doc)


def test_one_dataset_in_the_api_with_counts_from_the_store(web: Web) -> None:
    client = web.client()
    response = client.get("/api/v1/catalogue/datasets/omop-condition_occurrence")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    node = response.json()
    assert node["@id"] == f"{BASE}/catalogue/datasets/omop-condition_occurrence"
    assert node["@context"]["dcat"] == "http://www.w3.org/ns/dcat#"
    with connect(web.settings.resolved_store_url) as backend:  # type: ignore[attr-defined]
        rows = backend.count_rows("condition_occurrence")
    assert node["healthdcatap:numberOfRecords"]["@value"] == str(rows)
    missing = client.get("/api/v1/catalogue/datasets/omop-no_such_table")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "no such dataset in the catalogue"}
    assert client.get("/api/v1/catalogue/datasets/Bad%20Id").status_code == 422


def test_the_file_written_by_the_pipeline_is_served(web: Web) -> None:
    home = web.settings.home_path  # type: ignore[attr-defined]
    with connect(web.settings.resolved_store_url) as backend:  # type: ignore[attr-defined]
        doc = build_catalogue(
            backend, base_url=BASE, options=CatalogueOptions(title="Catalogue of the pipeline")
        )
        other = build_catalogue(
            backend, base_url="https://elsewhere.example", options=CatalogueOptions(title="Old")
        )
    client = web.client()
    write_catalogue(doc, home / CATALOGUE_FILE)
    served = client.get("/catalogue.jsonld").json()
    assert served["dct:title"]["@value"] == "Catalogue of the pipeline"
    assert served["dct:modified"] == doc["dct:modified"]
    page = client.get("/catalogue")
    assert doc["dct:modified"]["@value"][:10] in page.text
    # A file written for another public URL is not served: the catalogue is built afresh.
    write_catalogue(other, home / CATALOGUE_FILE)
    fresh = client.get("/api/v1/catalogue").json()
    assert fresh["@id"] == f"{BASE}/catalogue"
    assert fresh["dct:title"]["@value"] != "Old"


def test_catalogue_page_lists_and_searches_server_side(web: Web) -> None:
    client = web.client()
    page = client.get("/catalogue")
    assert page.status_code == 200
    html = page.text
    assert '<label for="catalogue-q">' in html and 'id="catalogue-q" name="q"' in html
    assert 'role="search"' in html
    assert 'href="/catalogue/datasets/omop-person"' in html
    assert 'href="/catalogue.jsonld"' in html
    found = client.get("/catalogue", params={"q": "lung ICD-10"}).text
    assert 'href="/catalogue/datasets/cohort-lung"' in found
    assert 'href="/catalogue/datasets/omop-person"' not in found
    assert "lung ICD-10" in found  # the query stays in the box
    none = client.get("/catalogue", params={"q": "<script>zzz</script>"}).text
    assert "No dataset matches" in none
    assert "<script>zzz" not in none  # escaped
    long = client.get("/catalogue", params={"q": "x" * 500})
    assert long.status_code == 200 and "limited to 200 characters" in long.text


def test_dataset_page_shows_coverage_variables_and_access(web: Web) -> None:
    client = web.client()
    cohort = client.get("/catalogue/datasets/cohort-lung")
    assert cohort.status_code == 200
    html = cohort.text
    assert "ICD-10 (CIM-10)" in html and "tumour.icd10" in html  # variables with standards
    assert 'href="/share"' in html  # request access
    assert "Non-public" in html
    stats = client.get("/catalogue/datasets/stats-incidence").text
    assert "Public" in stats and f"{BASE}/api/v1/open/incidence" in stats
    assert "2016-01-01" in stats  # coverage from the statistics table (years 2016-2023)
    as_jsonld = client.get(
        "/catalogue/datasets/stats-incidence", headers={"accept": "application/ld+json"}
    )
    assert as_jsonld.headers["content-type"].startswith("application/ld+json")
    assert as_jsonld.json()["@id"] == f"{BASE}/catalogue/datasets/stats-incidence"
    missing = client.get("/catalogue/datasets/no-such-dataset")
    assert missing.status_code == 404
    assert "text/html" in missing.headers["content-type"]


def test_a_bad_options_file_is_reported_not_crashed(web: Web) -> None:
    options = web.settings.home_path / "share" / "catalogue.yaml"  # type: ignore[attr-defined]
    options.parent.mkdir(parents=True, exist_ok=True)
    options.write_text("colour: blue\n", "utf-8")
    response = web.client().get("/catalogue.jsonld")
    assert response.status_code == 503
    assert "unknown option(s) colour" in response.json()["detail"]
