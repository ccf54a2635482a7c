"""Release requests: the researcher's table passes disclosure control before a steward sees it;
only the steward decides; only the permit's team asks; audited and notified."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker
from tests.share._workflow import DRAFT, audit_actions, notifications_of

from oncobase.api.accounts import add_user
from oncobase.share import release
from oncobase.share import requests as wf
from oncobase.share.disclosure import suppress_table
from oncobase.store.operational import Permit, open_operational

RITA = wf.Actor(username="rita", role="researcher")
OLAF = wf.Actor(username="olaf", role="researcher")
SAM = wf.Actor(username="sam", role="data_steward")
COUNTS = [[120, 4, 37], [88, 61, 15], [240, 190, 3]]


@pytest.fixture
def ctx(tmp_path: Path) -> wf.ShareContext:
    ops: sessionmaker[Session] = open_operational(f"sqlite:///{tmp_path / 'op.sqlite3'}")
    for actor in (RITA, OLAF, SAM):
        add_user(ops, actor.username, actor.role)
    return wf.ShareContext(factory=ops, audit_key=b"k" * 32)


@pytest.fixture
def permit(ctx: wf.ShareContext) -> wf.PermitView:
    draft = wf.RequestDraft(**{**DRAFT, "variables": ("person.sex",)})  # type: ignore[arg-type]
    request = wf.submit_request(ctx, RITA, draft)
    return wf.approve_request(ctx, SAM, request.request_id)


def _table() -> release.CountTable:
    return release.parse_count_csv("site,2021,2022,2023\nC34,120,4,37\nC50,88,61,15\nC18,240,190,3")


def test_the_table_is_suppressed_before_review_and_released_after(
    ctx: wf.ShareContext, permit: wf.PermitView
) -> None:
    submitted = release.submit_release(ctx, RITA, permit.permit_id, title="Cases by year",
                                       table=_table())  # fmt: skip
    expected = suppress_table(COUNTS)
    assert submitted.status == release.PENDING
    assert submitted.table["cells"] == expected.cells
    assert submitted.table["cells"][0][1] is None and submitted.table["cells"][2][2] is None
    assert submitted.table["suppressed"] == expected.suppressed_cells >= 4  # secondary too
    assert "4" not in {str(v) for row in submitted.table["cells"] for v in row}  # type: ignore[attr-defined]
    with pytest.raises(wf.AccessError, match="not approved"):
        release.released_csv(ctx, RITA, submitted.release_id)
    with pytest.raises(wf.AccessError) as info:
        release.decide_release(ctx, RITA, submitted.release_id, approve=True)
    assert info.value.kind == "forbidden"
    with pytest.raises(wf.AccessError, match="comment"):
        release.decide_release(ctx, SAM, submitted.release_id, approve=False)
    approved = release.decide_release(ctx, SAM, submitted.release_id, approve=True)
    assert approved.status == release.APPROVED and approved.reviewed_by == "sam"
    with pytest.raises(wf.AccessError) as info:
        release.decide_release(ctx, SAM, submitted.release_id, approve=False, comment="late")
    assert info.value.kind == "conflict"
    text = release.released_csv(ctx, RITA, submitted.release_id)
    lines = text.splitlines()
    assert lines[0] == ",2021,2022,2023,Total"
    assert lines[1].startswith("C34,120,<11,") and ",4," not in text
    assert audit_actions(ctx.factory, target=f"release:{submitted.release_id}") == [
        "share.release.submit", "share.release.approved", "share.release.download",
    ]  # fmt: skip
    assert any("to review" in n.subject for n in notifications_of(ctx.factory, "sam"))
    assert any("approved" in n.subject for n in notifications_of(ctx.factory, "rita"))


def test_only_the_team_of_a_valid_permit_asks(ctx: wf.ShareContext, permit: wf.PermitView) -> None:
    with pytest.raises(wf.AccessError) as info:
        release.submit_release(ctx, OLAF, permit.permit_id, title="t", table=_table())
    assert info.value.kind == "forbidden"
    with pytest.raises(wf.AccessError) as info:
        release.submit_release(ctx, SAM, permit.permit_id, title="t", table=_table())
    assert info.value.kind == "forbidden"
    with ctx.factory.begin() as session:
        session.execute(update(Permit).values(expires_at=wf.now_utc() - timedelta(days=1)))
    with pytest.raises(wf.AccessError) as info:
        release.submit_release(ctx, RITA, permit.permit_id, title="t", table=_table())
    assert info.value.kind == "expired"
    assert release.list_releases(ctx.factory, SAM) == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("site,2021\n", "header line and at least one row"),
        ("site,,2022\nC34,1,2", "line 1"),
        ("site,2021,2022\nC34,1", "line 2: 1 count"),
        ("site,2021\nC34,many", "line 2: counts are whole numbers"),
    ],
)
def test_bad_tables_are_named(text: str, message: str) -> None:
    with pytest.raises(wf.AccessError, match=message):
        release.parse_count_csv(text)


def test_negative_counts_are_refused(ctx: wf.ShareContext, permit: wf.PermitView) -> None:
    table = release.CountTable(rows=("a",), columns=("n",), cells=((-3,),))
    with pytest.raises(wf.AccessError, match="non-negative"):
        release.submit_release(ctx, RITA, permit.permit_id, title="t", table=table)
