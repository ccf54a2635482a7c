"""``oncobase cohorts`` through Typer's CliRunner, on a real truth-derived DuckDB store."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from typer.testing import CliRunner

from oncobase.cli.cohorts import app
from oncobase.config import Settings, get_settings
from oncobase.store import connect

from .conftest import load_rows

runner = CliRunner()


@pytest.fixture
def store_home(home: Settings, truth_rows: dict[str, pa.Table]) -> Settings:
    with connect(get_settings().resolved_store_url) as backend:
        load_rows(backend, truth_rows)
    return home


def test_list_json() -> None:
    result = runner.invoke(app, ["list", "--format", "json"])
    assert result.exit_code == 0, result.output
    names = [r["name"] for r in json.loads(result.output)]
    assert "pancreatic_adenocarcinoma" in names


def test_build_show_compare_export(store_home: Settings, tmp_path: Path) -> None:
    result = runner.invoke(app, ["build", "mesothelioma", "--format", "json"])
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    assert record["members"] > 0 and record["attrition"][0]["rule"] == "entry"
    result = runner.invoke(app, ["show", "mesothelioma", "--format", "json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["members"] == record["members"]
    assert summary["build"]["definition_hash"] == record["definition_hash"]
    assert summary["table1"][0]["variable"] == "persons"
    user = tmp_path / "mine.yaml"
    user.write_text(
        "name: mine\ntitle: Mine\nversion: '1.0'\nentry:\n  any_of:\n    - icd10: [C16]\n"
    )
    result = runner.invoke(app, ["compare", "mesothelioma", str(user), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert any("smd" in r for r in json.loads(result.output))
    result = runner.invoke(app, ["export", str(user), "--format", "json"])
    assert json.loads(result.output)["definition"]["name"] == "mine"


def test_error_exit(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: B\nversion: '1.0'\nentry:\n  any_of:\n    - icd10: [Q99]\n")
    result = runner.invoke(app, ["export", str(bad)])
    assert result.exit_code == 1
    assert "line 6" in result.output
