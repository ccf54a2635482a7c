"""`oncobase share …` as an operator runs it (the real Typer app, in process) on a real home
folder: real DuckDB store, real SQLite operational store."""

from __future__ import annotations

import json

import pytest
from tests.api._web import build_small_store
from tests.share._workflow import DRAFT, add_cohort, audit_actions
from typer.testing import CliRunner, Result

from oncobase.api.accounts import add_user
from oncobase.cli import app
from oncobase.cli._commands import init as _registers_the_sub_apps  # noqa: F401
from oncobase.config import Settings
from oncobase.share import requests as wf
from oncobase.store.audit import audit_key, verify_audit
from oncobase.store.operational import open_operational

RUNNER = CliRunner()


def oncobase(*args: str) -> Result:
    return RUNNER.invoke(app, list(args), env={"COLUMNS": "200"})


def test_requests_permits_extract_and_optout(
    home: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("ONCOBASE_WEB_HOME", "ONCOBASE_WEB_STORE_URL", "ONCOBASE_WEB_OPERATIONAL_URL",
                 "ONCOBASE_SMTP_HOST"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    settings = home
    folder = settings.ensure_home()
    add_cohort(build_small_store(folder / "store.duckdb", persons=30), list(range(1, 21)))
    ops = open_operational(settings.resolved_operational_url)
    key = audit_key(settings)
    add_user(ops, "rita", "researcher")
    ctx = wf.ShareContext(factory=ops, audit_key=key)
    draft = wf.RequestDraft(**{**DRAFT, "variables": ("person.sex", "tumour.icd10")})  # type: ignore[arg-type]
    request = wf.submit_request(ctx, wf.Actor(username="rita", role="researcher"), draft)
    pending = wf.submit_request(ctx, wf.Actor(username="rita", role="researcher"), draft)
    permit = wf.approve_request(ctx, wf.Actor(username="sam", role="data_steward"),
                                request.request_id)  # fmt: skip

    listed = oncobase("share", "requests", "--format", "json")
    assert listed.exit_code == 0, listed.output
    assert [(r["request_id"], r["status"]) for r in json.loads(listed.stdout)] == [
        (pending.request_id, "submitted"), (request.request_id, "approved"),
    ]  # fmt: skip
    only = oncobase("share", "requests", "--status", "submitted", "--format", "json")
    assert [r["request_id"] for r in json.loads(only.stdout)] == [pending.request_id]
    bad = oncobase("share", "requests", "--status", "pending")
    assert bad.exit_code == 1 and "is not one of" in bad.stderr

    permits = oncobase("share", "permits", "--format", "json")
    assert permits.exit_code == 0, permits.output
    (row,) = json.loads(permits.stdout)
    assert row["project_id"] == permit.project_id and row["valid"] is True

    objection = oncobase("share", "optout", "4")
    assert objection.exit_code == 0 and "objection recorded (staff)" in objection.stdout
    missing = oncobase("share", "optout", "999")
    assert missing.exit_code == 1 and "no person 999" in missing.stderr

    built = oncobase("share", "extract", str(permit.permit_id), "--format", "json")
    assert built.exit_code == 0, built.output
    result = json.loads(built.stdout)
    assert result["persons"] == 19  # 20 members, one objection
    assert (
        folder / "share" / "extracts" / permit.project_id / f"{result['extract_id']}.zip"
    ).is_file()

    assert "share.extract.build" in audit_actions(ops)
    assert audit_actions(ops, target="person:4") == ["share.optout.record", "optout.effective"]
    assert verify_audit(ops, key).ok


@pytest.mark.parametrize("verb", ["requests", "permits", "extract", "optout"])
def test_every_share_verb_has_help_with_an_example(verb: str) -> None:
    result = oncobase("share", verb, "--help")
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
