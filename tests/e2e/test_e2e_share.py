"""Data access in a real browser (Debian chromium) against a real uvicorn: a researcher
requests, a steward asks for a change, the researcher amends, the steward approves, the
researcher downloads an extract holding only the permitted variables; another researcher is
refused; after expiry the download is refused. Screenshots in tests/e2e/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from tests._server import serve_in_background
from tests.api._web import build_small_store
from tests.e2e.conftest import server_env, shot
from tests.share._workflow import (
    COHORT,
    DRAFT,
    FORBIDDEN_COLUMNS,
    add_cohort,
    audit_actions,
    audit_entries,
    read_extract,
)

from oncobase.api.accounts import add_user
from oncobase.share.requests import now_utc
from oncobase.share.variables import BY_NAME
from oncobase.store.operational import Permit, open_operational

pytestmark = pytest.mark.browser

OTHER = ("other-researcher", "other-researcher-pw")
MEMBERS = list(range(1, 41))


@pytest.fixture(scope="module")
def share_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, dict[str, tuple[str, str]], str]]:
    """uvicorn on its own store (with a built cohort) and operational store."""
    from oncobase.api import WebSettings, create_demo_accounts

    folder = tmp_path_factory.mktemp("e2e-share")
    store = build_small_store(folder / "store.duckdb")
    add_cohort(store, MEMBERS)
    settings = WebSettings(home=folder / "web", store_url=f"duckdb:///{store}")
    accounts = {role: (name, password) for role, name, password in
                create_demo_accounts(settings) if name != "demo-patient-2"}  # fmt: skip
    operational_url = settings.resolved_operational_url
    add_user(open_operational(operational_url), OTHER[0], "researcher", password=OTHER[1])
    accounts["other"] = OTHER
    env = server_env(folder, store)
    for name in [k for k in env if k.startswith("ONCOBASE_SMTP_")]:
        del env[name]
    with serve_in_background(env) as (base, _process):
        yield base, accounts, operational_url


def _signed_in(browser, base: str, account: tuple[str, str]):  # type: ignore[no-untyped-def]
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.goto(base + "/login")
    page.get_by_label("Username").fill(account[0])
    page.get_by_label("Password").fill(account[1])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()
    assert account[0] in page.content()
    return page


def test_request_change_amend_approve_download_and_expiry(  # type: ignore[no-untyped-def]
    browser, share_server
) -> None:
    base, accounts, operational_url = share_server
    researcher = _signed_in(browser, base, accounts["researcher"])
    steward = _signed_in(browser, base, accounts["data_steward"])

    # the researcher requests
    researcher.goto(base + "/share")
    researcher.get_by_role("link", name="New access request").click()
    researcher.get_by_label("Title").fill(str(DRAFT["title"]))
    researcher.get_by_label("Purpose").fill(str(DRAFT["purpose"]))
    researcher.get_by_label("Public interest").fill(str(DRAFT["public_interest"]))
    researcher.get_by_label("Legal basis").fill(str(DRAFT["legal_basis"]))
    researcher.get_by_label("Cohort").fill(COHORT)
    for name in DRAFT["variables"]:  # type: ignore[attr-defined]
        researcher.locator(f'input[name="variables"][value="{name}"]').check()
    researcher.get_by_label("Duration (days)").fill("90")
    shot(researcher, "share_request_new")
    researcher.get_by_role("button", name="Submit the request").click()
    researcher.wait_for_url("**/share/requests/*")
    request_url = researcher.url
    request_id = int(request_url.rsplit("/", 1)[1])
    assert researcher.locator("#request-status").inner_text() == "submitted"

    # the steward asks for a change
    steward.goto(base + "/share")
    steward.locator("ul.pending").get_by_role("link", name=f"#{request_id}").click()
    steward.wait_for_url(f"**/share/requests/{request_id}")
    steward.get_by_label("Comment").fill("Sex is not needed; year precision is enough.")
    shot(steward, "share_review")
    steward.get_by_role("button", name="Ask for changes").click()
    steward.wait_for_load_state()
    assert steward.locator("#request-status").inner_text() == "changes_requested"

    # the researcher sees the comment and amends
    researcher.goto(request_url)
    assert "Sex is not needed" in researcher.content()
    researcher.locator('input[name="variables"][value="person.sex"]').uncheck()
    researcher.get_by_label("Date precision").select_option("year")
    researcher.get_by_label("Answer to the steward").fill("Dropped sex; year precision.")
    researcher.get_by_role("button", name="Submit the amended request").click()
    researcher.wait_for_load_state()
    assert researcher.locator("#request-status").inner_text() == "submitted"
    assert "person.sex" not in researcher.locator("ul.variables").inner_text()
    shot(researcher, "share_request_amended")

    # the steward approves: the permit page
    steward.goto(request_url)
    steward.get_by_role("button", name="Approve").click()
    steward.wait_for_url("**/share/permits/*")
    permit_url = steward.url
    permit_id = int(permit_url.rsplit("/", 1)[1])
    assert "Valid until" in steward.content()
    shot(steward, "share_permit_steward")

    # the researcher builds the extract and downloads it
    researcher.goto(base + "/share")
    researcher.get_by_role("link", name=f"Permit {permit_id}").first.click()
    researcher.wait_for_url(f"**/share/permits/{permit_id}")
    researcher.get_by_role("button", name="Build an extract").click()
    researcher.wait_for_load_state()
    link = researcher.locator("table.extracts a").first
    shot(researcher, "share_permit_extract")
    with researcher.expect_download() as info:
        link.click()
    download_url = info.value.url
    content = read_extract(Path(info.value.path()).read_bytes())
    permitted = {BY_NAME[v].column for v in ("person.year_of_birth", "tumour.icd10", "death.date")}
    released = {c for columns in content.columns.values() for c in columns}
    assert permitted <= released
    assert released - permitted <= {"person_pseudonym", "condition_occurrence_id"}
    assert not FORBIDDEN_COLUMNS & released and "person_id" not in content.text

    # another researcher is refused
    other = _signed_in(browser, base, accounts["other"])
    response = other.goto(download_url)
    assert response is not None and response.status == 403
    assert "only its members download it" in other.content()
    shot(other, "share_download_refused_other")

    # the clock moves past the expiry: refused, with a clear message
    ops = open_operational(operational_url)
    with ops.begin() as session:
        session.execute(update(Permit).where(Permit.permit_id == permit_id)
                        .values(expires_at=now_utc() - timedelta(seconds=1)))  # fmt: skip
    response = researcher.goto(download_url)
    assert response is not None and response.status == 403
    assert "expired on" in researcher.content()
    shot(researcher, "share_download_refused_expired")
    researcher.goto(permit_url)
    assert "Expired on" in researcher.content()
    assert researcher.get_by_role("button", name="Build an extract").count() == 0

    # the notifications and the audit trail
    researcher.goto(base + "/share/notifications")
    text = researcher.content()
    assert "needs changes" in text and "approved" in text and "is ready" in text
    shot(researcher, "share_notifications")
    assert audit_actions(ops, target=f"request:{request_id}") == [
        "share.request.submit", "share.request.changes_requested", "share.request.amend",
        "share.request.approve",
    ]  # fmt: skip
    researcher_name, other_name = accounts["researcher"][0], OTHER[0]
    assert [e.actor for e in audit_entries(ops, "share.download")] == [researcher_name]
    assert [e.actor for e in audit_entries(ops, "share.download.refused")] == [
        other_name, researcher_name,
    ]  # fmt: skip
    for page in (researcher, steward, other):
        page.context.close()


@pytest.mark.parametrize("role", ["patient", "clinician"])
def test_patients_and_clinicians_cannot_open_data_access(  # type: ignore[no-untyped-def]
    browser, share_server, role: str
) -> None:
    base, accounts, _ = share_server
    page = _signed_in(browser, base, accounts[role])
    assert page.get_by_role("link", name="Data access").count() == 0
    response = page.goto(base + "/share")
    assert response is not None and response.status == 403
    page.context.close()


def test_patient_and_clinician_record_objections(browser, share_server) -> None:  # type: ignore[no-untyped-def]
    base, accounts, operational_url = share_server
    patient = _signed_in(browser, base, accounts["patient"])
    patient.goto(base + "/me/optout")
    assert "No objection is recorded." in patient.content()
    patient.get_by_role("button", name="I object to research reuse of my data").click()
    patient.wait_for_load_state()
    assert "Objection recorded on" in patient.locator("#optout-status").inner_text()
    shot(patient, "share_optout_patient")
    patient.get_by_role("button", name="Withdraw the objection").click()
    patient.wait_for_load_state()
    assert "No objection is recorded." in patient.content()
    clinician = _signed_in(browser, base, accounts["clinician"])
    clinician.goto(base + "/patients/7/optout")
    clinician.get_by_role("button", name="Record the patient's objection").click()
    clinician.wait_for_load_state()
    assert "(clinician)" in clinician.locator("#optout-status").inner_text()
    shot(clinician, "share_optout_clinician")
    response = clinician.goto(base + "/patients/999999/optout")
    assert response is not None and response.status == 404
    ops = open_operational(operational_url)
    assert audit_actions(ops, target="person:7") == ["share.optout.record"]
    for page in (patient, clinician):
        page.context.close()
