"""The access-request workflow on a real operational store (SQLite file): submit, ask for
changes, amend, approve into a permit, reject; who may do what; every step audited and
notified; extracts from a permit and their downloads on a real DuckDB store."""

from __future__ import annotations

import io
import zipfile
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tests.api._web import build_small_store
from tests.share._workflow import (
    COHORT,
    DRAFT,
    FORBIDDEN_COLUMNS,
    add_cohort,
    audit_actions,
    audit_entries,
    notifications_of,
)

from oncobase.api.accounts import add_user
from oncobase.share import downloads
from oncobase.share import requests as wf
from oncobase.share.objections import record_objection
from oncobase.share.variables import BY_NAME
from oncobase.store import connect
from oncobase.store.audit import verify_audit
from oncobase.store.operational import Permit, open_operational

KEY = b"k" * 32
RITA = wf.Actor(username="rita", role="researcher")
OLAF = wf.Actor(username="olaf", role="researcher")  # another team
SAM = wf.Actor(username="sam", role="data_steward")
ADA = wf.Actor(username="ada", role="admin")


@pytest.fixture
def factory(tmp_path: Path) -> sessionmaker[Session]:
    ops = open_operational(f"sqlite:///{tmp_path / 'operational.sqlite3'}")
    for actor in (RITA, OLAF, SAM, ADA):
        add_user(ops, actor.username, actor.role)
    add_user(ops, "tom", "researcher")
    add_user(ops, "cleo", "clinician")
    return ops


@pytest.fixture
def ctx(factory: sessionmaker[Session]) -> wf.ShareContext:
    return wf.ShareContext(factory=factory, audit_key=KEY)


def _draft(**changes: object) -> wf.RequestDraft:
    fields: dict[str, object] = {**DRAFT, "variables": tuple(DRAFT["variables"])}  # type: ignore[arg-type]
    fields.update(changes)
    return wf.RequestDraft(**fields)  # type: ignore[arg-type]


def test_request_changes_amend_approve_gives_a_permit(ctx: wf.ShareContext) -> None:
    submitted = wf.submit_request(ctx, RITA, _draft(team=("tom",)))
    assert submitted.status == wf.SUBMITTED and submitted.version == 1
    assert submitted.team == ("rita", "tom")  # the submitter is always on the team
    asked = wf.request_changes(ctx, SAM, submitted.request_id, comment="Year of birth suffices")
    assert asked.status == wf.CHANGES_REQUESTED
    amended = wf.amend_request(
        ctx, RITA, submitted.request_id,
        _draft(team=("tom",), variables=("person.year_of_birth", "tumour.icd10", "death.date")),
        comment="sex dropped",
    )  # fmt: skip
    assert amended.status == wf.SUBMITTED and amended.version == 2
    assert "person.sex" not in amended.variables
    permit = wf.approve_request(ctx, SAM, submitted.request_id, comment="fine")
    assert permit.variables == ("person.year_of_birth", "tumour.icd10", "death.date")
    assert permit.team == ("rita", "tom") and permit.cohort == COHORT
    assert permit.expires_at - permit.issued_at == timedelta(days=180)
    assert permit.project_id.startswith("P") and len(permit.project_id) == 33
    assert permit.is_valid()
    final = wf.get_request(ctx.factory, RITA, submitted.request_id)
    assert final.status == wf.APPROVED and final.permit_id == permit.permit_id
    assert [e.action for e in final.events] == ["submitted", "changes_requested", "amended",
                                                "approved"]  # fmt: skip
    assert final.events[1].comment == "Year of birth suffices" and final.events[1].actor == "sam"
    # every step audited, in order, and the chain intact
    assert audit_actions(ctx.factory, target=f"request:{submitted.request_id}") == [
        "share.request.submit", "share.request.changes_requested", "share.request.amend",
        "share.request.approve",
    ]  # fmt: skip
    assert verify_audit(ctx.factory, KEY).ok
    # every step notified in-app: stewards on submit/amend, the team on review steps
    sam_subjects = [n.subject for n in notifications_of(ctx.factory, "sam")]
    assert any("to review" in s for s in sam_subjects) and any("amended" in s for s in sam_subjects)
    for member in ("rita", "tom"):
        subjects = [n.subject for n in notifications_of(ctx.factory, member)]
        assert any("needs changes" in s for s in subjects), member
        assert any("approved" in s for s in subjects), member
    assert notifications_of(ctx.factory, "olaf") == []
    assert all(not n.emailed for n in notifications_of(ctx.factory, "rita"))  # no SMTP here


def test_project_ids_are_random_and_unique(ctx: wf.ShareContext) -> None:
    ids = set()
    for _ in range(3):
        request = wf.submit_request(ctx, RITA, _draft())
        ids.add(wf.approve_request(ctx, SAM, request.request_id).project_id)
    assert len(ids) == 3


def test_steward_grants_a_subset_only(ctx: wf.ShareContext) -> None:
    request = wf.submit_request(ctx, RITA, _draft())
    with pytest.raises(wf.AccessError, match="not requested") as info:
        wf.approve_request(ctx, SAM, request.request_id, variables=["treatment.drug"])
    assert info.value.kind == "invalid"
    permit = wf.approve_request(ctx, SAM, request.request_id, variables=["person.sex"])
    assert permit.variables == ("person.sex",)


def test_reject_needs_a_comment_and_is_final(ctx: wf.ShareContext) -> None:
    request = wf.submit_request(ctx, RITA, _draft())
    with pytest.raises(wf.AccessError, match="comment"):
        wf.reject_request(ctx, SAM, request.request_id, comment="  ")
    rejected = wf.reject_request(ctx, SAM, request.request_id, comment="No public interest")
    assert rejected.status == wf.REJECTED
    with pytest.raises(wf.AccessError) as info:
        wf.approve_request(ctx, SAM, request.request_id)
    assert info.value.kind == "conflict"
    with pytest.raises(wf.AccessError) as info:
        wf.amend_request(ctx, RITA, request.request_id, _draft())
    assert info.value.kind == "conflict"
    assert any("rejected" in n.subject for n in notifications_of(ctx.factory, "rita"))


def test_who_may_do_what(ctx: wf.ShareContext) -> None:
    request = wf.submit_request(ctx, RITA, _draft())
    rid = request.request_id
    # only stewards and admins review, and never their own request
    with pytest.raises(wf.AccessError) as info:
        wf.request_changes(ctx, RITA, rid, comment="self-review")
    assert info.value.kind == "forbidden"
    own = wf.submit_request(ctx, SAM, _draft())
    with pytest.raises(wf.AccessError, match="own request") as info:
        wf.approve_request(ctx, SAM, own.request_id)
    assert info.value.kind == "forbidden"
    assert wf.approve_request(ctx, ADA, own.request_id).team == ("sam",)
    # another researcher neither sees nor amends it
    with pytest.raises(wf.AccessError) as info:
        wf.get_request(ctx.factory, OLAF, rid)
    assert info.value.kind == "forbidden"
    assert [r.request_id for r in wf.list_requests(ctx.factory, OLAF)] == []
    assert {r.request_id for r in wf.list_requests(ctx.factory, SAM)} == {rid, own.request_id}
    wf.request_changes(ctx, SAM, rid, comment="more detail")
    with pytest.raises(wf.AccessError) as info:
        wf.amend_request(ctx, OLAF, rid, _draft())
    assert info.value.kind == "forbidden"
    # patients and clinicians have no business here
    for role in ("patient", "clinician", "registry_analyst"):
        with pytest.raises(wf.AccessError) as info:
            wf.list_requests(ctx.factory, wf.Actor(username="x", role=role))
        assert info.value.kind == "forbidden"
        with pytest.raises(wf.AccessError):
            wf.submit_request(ctx, wf.Actor(username="x", role=role), _draft())
    with pytest.raises(wf.AccessError) as info:
        wf.get_request(ctx.factory, SAM, 9999)
    assert info.value.kind == "not_found"


def test_bad_drafts_name_every_problem_and_store_nothing(ctx: wf.ShareContext) -> None:
    bad = _draft(title=" ", variables=("person.name", "person.sex"), date_precision="hour",
                 duration_days=0, team=("cleo", "nobody"))  # fmt: skip
    with pytest.raises(wf.AccessError) as info:
        wf.submit_request(ctx, RITA, bad)
    message = str(info.value)
    for part in ("title is required", "'person.name'", "'hour'", "duration",
                 "'cleo' is not a researcher", "'nobody' has no active account"):  # fmt: skip
        assert part in message, part
    assert wf.list_requests(ctx.factory, SAM) == []
    assert audit_actions(ctx.factory) == []


def test_permit_validity_follows_the_clock(ctx: wf.ShareContext) -> None:
    request = wf.submit_request(ctx, RITA, _draft(duration_days=1))
    permit = wf.approve_request(ctx, SAM, request.request_id)
    assert wf.permit_is_valid(permit)
    assert not wf.permit_is_valid(permit, permit.expires_at)
    assert not wf.permit_is_valid(permit, permit.expires_at + timedelta(seconds=1))
    assert not wf.permit_is_valid(replace(permit, revoked=True))
    with pytest.raises(wf.AccessError) as info:
        wf.get_permit(ctx.factory, OLAF, permit.permit_id)
    assert info.value.kind == "forbidden"
    assert [p.permit_id for p in wf.list_permits(ctx.factory, RITA)] == [permit.permit_id]
    assert wf.list_permits(ctx.factory, OLAF) == []


# -- extracts and downloads on a real store ------------------------------------------------------
@pytest.fixture
def store(tmp_path: Path) -> Path:
    path = build_small_store(tmp_path / "store.duckdb", persons=40)
    add_cohort(path, list(range(1, 31)))
    return path


def _permit(ctx: wf.ShareContext) -> wf.PermitView:
    request = wf.submit_request(ctx, RITA, _draft(team=("tom",)))
    return wf.approve_request(ctx, SAM, request.request_id)


def test_extract_download_by_team_only_until_expiry(
    ctx: wf.ShareContext, store: Path, tmp_path: Path
) -> None:
    permit = _permit(ctx)
    home = tmp_path / "home"
    with connect(f"duckdb:///{store}") as backend:
        # a patient objects before the build: excluded from it
        record_objection(ctx, wf.Actor(username="pat", role="patient", person_id=3), backend=None)
        extract = downloads.build_permit_extract(
            ctx, RITA, permit.permit_id, backend=backend, home=home, pseudonym_key=KEY
        )
    assert extract.persons == 29  # 30 members, one objection
    got = downloads.record_download(ctx, RITA, extract.extract_id)
    assert got.path.is_file() and got.path.is_relative_to(home / "share" / "extracts")
    assert permit.project_id in got.filename
    with zipfile.ZipFile(io.BytesIO(got.path.read_bytes())) as archive:
        headers = {
            n: archive.read(n).decode().splitlines()[0].split(",")
            for n in archive.namelist()
            if n.endswith(".csv")
        }
    allowed = {BY_NAME[v].column for v in permit.variables} | {"person_pseudonym"}
    for name, columns in headers.items():
        extra = {c.strip('"') for c in columns} - allowed
        assert all(c.endswith("_occurrence_id") for c in extra), (name, extra)
        assert not FORBIDDEN_COLUMNS & {c.strip('"') for c in columns}
    assert downloads.record_download(ctx, wf.Actor(username="tom", role="researcher"),
                                     extract.extract_id).path == got.path  # fmt: skip
    # not on the team: refused, even for a steward, and audited
    for outsider in (OLAF, SAM):
        with pytest.raises(wf.AccessError) as info:
            downloads.record_download(ctx, outsider, extract.extract_id)
        assert info.value.kind == "forbidden"
    # the clock moves past the expiry
    with ctx.factory.begin() as session:
        session.execute(
            update(Permit)
            .where(Permit.permit_id == permit.permit_id)
            .values(expires_at=wf.now_utc() - timedelta(minutes=1))
        )
    with pytest.raises(wf.AccessError, match="expired") as info:
        downloads.record_download(ctx, RITA, extract.extract_id)
    assert info.value.kind == "expired"
    with connect(f"duckdb:///{store}") as backend, pytest.raises(wf.AccessError):
        downloads.build_permit_extract(
            ctx, RITA, permit.permit_id, backend=backend, home=home, pseudonym_key=KEY
        )
    downloaded = audit_entries(ctx.factory, "share.download")
    refused = audit_entries(ctx.factory, "share.download.refused")
    assert [e.actor for e in downloaded] == ["rita", "tom"]
    assert [e.actor for e in refused] == ["olaf", "sam", "rita"]
    assert '"reason": "expired"' in refused[-1].detail
    assert audit_actions(ctx.factory, target=f"person:{3}") == [
        "share.optout.record", "optout.effective",
    ]  # fmt: skip
    assert any("extract" in n.subject for n in notifications_of(ctx.factory, "tom"))
    assert verify_audit(ctx.factory, KEY).ok


def test_a_failed_build_leaves_no_extract(ctx: wf.ShareContext, tmp_path: Path) -> None:
    request = wf.submit_request(ctx, RITA, _draft(cohort="never_built"))
    permit = wf.approve_request(ctx, SAM, request.request_id)
    store = build_small_store(tmp_path / "empty.duckdb", persons=5)
    with connect(f"duckdb:///{store}") as backend:
        assert wf.built_cohorts(backend) == []
        with pytest.raises(Exception, match="never_built"):
            downloads.build_permit_extract(
                ctx, RITA, permit.permit_id, backend=backend, home=tmp_path / "h",
                pseudonym_key=KEY,
            )  # fmt: skip
    assert downloads.list_extracts(ctx.factory, RITA, permit.permit_id) == []
    assert not (tmp_path / "h" / "share" / "extracts" / permit.project_id / "1").exists()
