"""`oncobase users …` in process (the real Typer app) on a real home folder: accounts and
where their notifications are e-mailed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from oncobase.cli import app
from oncobase.cli._commands import init as _registers_the_sub_apps  # noqa: F401

RUNNER = CliRunner()


def test_an_account_gets_and_loses_its_notification_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ONCOBASE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("ONCOBASE_OPERATIONAL_URL", raising=False)

    def run(*args: str) -> str:
        result = RUNNER.invoke(app, list(args), env={"COLUMNS": "200"})
        assert result.exit_code == 0, result.output
        return result.stdout

    run("users", "add", "bob", "--role", "researcher", "--no-password",
        "--email", "bob@lab.example")  # fmt: skip
    (row,) = json.loads(run("users", "list", "--format", "json"))
    assert (row["username"], row["email"]) == ("bob", "bob@lab.example")
    assert "in the app only" in run("users", "email", "bob", "")
    (row,) = json.loads(run("users", "list", "--format", "json"))
    assert row["email"] is None
    refused = RUNNER.invoke(app, ["users", "email", "bob", "bob at lab"])
    # the console script prints an OncobaseError as "error: …" (cli.main); in process it is raised
    assert refused.exit_code != 0 and "not valid" in str(refused.exception)
