"""The platform in a real browser: sign in per role, explorer, CSV, timelines, 403s."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.conftest import shot

from oncobase.api.quality import cohorts_api

pytestmark = pytest.mark.browser


def login(page, base: str, accounts: dict[str, tuple[str, str]], role: str) -> None:  # type: ignore[no-untyped-def]
    username, password = accounts[role]
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert username in page.content()


def wait_url(page, fragment: str) -> None:  # type: ignore[no-untyped-def]
    """Wait for the page's URL to hold ``fragment`` (the CSP forbids string predicates)."""
    for _ in range(100):
        if fragment in page.url:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"{fragment} never reached the URL ({page.url})")


@pytest.mark.parametrize("role", ["admin", "data_steward", "registry_analyst", "researcher",
                                  "clinician", "patient"])  # fmt: skip
def test_sign_in_per_role(page, server, role: str) -> None:  # type: ignore[no-untyped-def]
    base, accounts = server
    login(page, base, accounts, role)


def test_dashboard_and_explorer_filters_and_csv(page, server) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    page.goto(base + "/")
    page.wait_for_selector(".chart .plot .main-svg")
    shot(page, "dashboard")
    page.goto(base + "/explorer")
    page.get_by_label("Group by").select_option("year")
    wait_url(page, "group_by=year")
    page.get_by_label("Series").select_option("sex")
    wait_url(page, "series=sex")
    page.wait_for_selector("#results .chart .main-svg")
    assert "series=sex" in page.url
    shot(page, "explorer")
    with page.expect_download() as info:
        page.locator("#csv-link").click()
    path = info.value.path()
    assert Path(path).read_text(encoding="utf-8").startswith("year,")
    page.goto(page.url)  # the shared URL restores the view
    assert page.get_by_label("Series").input_value() == "sex"


def test_clinician_timeline(page, server) -> None:  # type: ignore[no-untyped-def]
    base, accounts = server
    login(page, base, accounts, "clinician")
    page.goto(base + "/patients")
    shot(page, "patients")
    page.get_by_label("Person id").fill("3")
    page.get_by_role("button", name="Open record").click()
    page.wait_for_url("**/patients/3")
    assert page.locator("ol.timeline li").count() >= 3
    shot(page, "timeline")


@pytest.mark.parametrize("role", ["researcher", "patient"])
def test_clinician_page_forbidden(page, server, role: str) -> None:  # type: ignore[no-untyped-def]
    base, accounts = server
    login(page, base, accounts, role)
    response = page.goto(base + "/patients/3")
    assert response.status == 403
    if role == "patient":
        page.goto(base + "/me/record")
        shot(page, "my_record")


def test_quality_and_admin_pages(page, server) -> None:  # type: ignore[no-untyped-def]
    base, accounts = server
    login(page, base, accounts, "admin")
    page.goto(base + "/quality")
    assert "invalid ICD-10 code" in page.content() and "SECRET-RAW" not in page.content()
    shot(page, "quality")
    page.goto(base + "/admin/audit")
    assert "Hash chain intact" in page.content()
    shot(page, "audit")


def test_phone_width_and_french(browser, server) -> None:  # type: ignore[no-untyped-def]
    base, _ = server
    context = browser.new_context(viewport={"width": 375, "height": 740})
    page = context.new_page()
    page.goto(base + "/explorer?lang=fr")
    assert "Explorateur statistique" in page.content()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
    shot(page, "explorer_phone_fr")
    context.close()


def test_cohort_page(page, server) -> None:  # type: ignore[no-untyped-def]
    api = cohorts_api()
    assert api is not None  # the cohorts domain is part of the platform
    base, accounts = server
    login(page, base, accounts, "registry_analyst")
    page.goto(base + "/cohorts")
    shot(page, "cohorts")
    links = page.locator("ul.cohorts a")
    if links.count():
        links.first.click()
        page.wait_for_load_state()
        shot(page, "cohort")


def test_catalogue_browse_and_search_with_the_keyboard(page, server) -> None:  # type: ignore[no-untyped-def]
    """The public catalogue: search by keyboard only, open a dataset, find the JSON-LD link."""
    base, _ = server
    page.goto(base + "/catalogue")
    total = page.locator("ul.catalogue li").count()
    assert total > 1
    box = page.get_by_label("Search titles, descriptions, variables and themes")
    box.focus()
    page.keyboard.type("condition_occurrence")
    page.keyboard.press("Enter")
    wait_url(page, "q=condition_occurrence")
    everything = page.locator("ul.catalogue li").count()
    match = page.locator("ul.catalogue h2 a", has_text="condition_occurrence")
    assert match.count() == 1 and 1 <= everything < total
    shot(page, "catalogue_search")
    match.focus()
    page.keyboard.press("Enter")
    wait_url(page, "/catalogue/datasets/")
    page.wait_for_load_state()
    assert page.locator("a[href='/share']").count() >= 1  # request access
    shot(page, "catalogue_dataset")
