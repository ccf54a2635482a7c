"""The ``oncobase`` command as a user runs it: a real process on a real home folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from oncobase.store import omop_tables, platform_tables


def oncobase(
    home: Path, *args: str, store_url: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ONCOBASE_HOME": str(home), "COLUMNS": "200"}
    env["ONCOBASE_SYNTH_PATIENTS"] = "300"  # a small synthetic nation keeps the test quick
    env.pop("ONCOBASE_STORE_URL", None)
    if store_url:
        env["ONCOBASE_STORE_URL"] = store_url
    return subprocess.run(
        [sys.executable, "-m", "oncobase", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )


def test_init_then_store_info_lists_the_39_omop_tables_and_platform_tables(tmp_path: Path) -> None:
    home = tmp_path / "empty"
    init = oncobase(home, "init")
    assert init.returncode == 0, init.stderr
    assert (home / "store.duckdb").is_file()
    keys = {p.name: p.stat().st_mode & 0o777 for p in (home / "keys").iterdir()}
    for name in ("vault.key", "pseudonym.key", "blocking.key", "record-fingerprint.key"):
        assert keys.get(name) == 0o600, (name, keys)  # every linkage key, ready to back up
    info = oncobase(home, "store", "info", "--format", "json")
    assert info.returncode == 0, info.stderr
    payload = json.loads(info.stdout)
    assert payload["engine"] == "duckdb"
    groups: dict[str, int] = {}
    for table in payload["tables"]:
        assert table["present"] is True
        groups[table["group"]] = groups.get(table["group"], 0) + 1
    omop = groups["CDM"] + groups["VOCAB"] + groups["RESULTS"]
    assert omop == 39 == len(omop_tables())
    assert groups["PLATFORM"] == len(platform_tables()) >= 1
    text = oncobase(home, "store", "info")
    assert "condition_occurrence" in text.stdout
    assert "platform__loads" in text.stdout


def test_init_works_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    result = oncobase(tmp_path / "pg", "init", store_url=postgres_url)
    assert result.returncode == 0, result.stderr
    info = oncobase(tmp_path / "pg", "store", "info", "--format", "json", store_url=postgres_url)
    assert json.loads(info.stdout)["engine"] == "postgresql"


def test_pipeline_runs_end_to_end_then_skips_unchanged_steps(tmp_path: Path) -> None:
    home = tmp_path / "h"
    first = oncobase(home, "pipeline", "run")
    assert first.returncode == 0, first.stderr
    status = oncobase(home, "pipeline", "status", "--format", "json")
    rows = {r["step"]: r for r in json.loads(status.stdout)}
    for step in ("vocab", "synth", "ingest", "load", "stats"):
        assert rows[step]["last_status"] == "success", rows[step]
        assert rows[step]["up_to_date"] is True
    info = json.loads(oncobase(home, "store", "info", "--format", "json").stdout)
    counts = {t["table"]: t["rows"] for t in info["tables"]}
    assert counts["person"] > 0
    assert counts["condition_occurrence"] > 0
    assert counts["stats__incidence"] > 0
    second = oncobase(home, "pipeline", "run")
    assert second.returncode == 0, second.stderr
    assert "skipped" in second.stdout
    assert "success" not in second.stdout
    mapped = oncobase(home, "vocab", "map", "ICD10", "C509", "Z99.9")
    assert mapped.returncode == 0
    lines = mapped.stdout.strip().splitlines()
    assert lines[0].split()[-1] != "0"
    assert lines[1].split()[-1] == "0"


def test_demo_runs_end_to_end(tmp_path: Path) -> None:
    result = oncobase(tmp_path / "demo", "demo", "--no-serve")
    assert result.returncode == 0, result.stderr
    assert "vocab" in result.stdout
    assert "done" in result.stdout


def test_bad_store_url_gives_an_actionable_error(tmp_path: Path) -> None:
    result = oncobase(tmp_path, "store", "info", store_url="mysql://localhost/x")
    assert result.returncode == 1
    assert "ONCOBASE_STORE_URL must start with duckdb:/// or postgresql://" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_step_gives_an_actionable_error(tmp_path: Path) -> None:
    result = oncobase(tmp_path / "h", "pipeline", "run", "--only", "nope")
    assert result.returncode == 1
    assert "No pipeline step named 'nope'; known steps:" in result.stderr


@pytest.mark.parametrize(
    "verb",
    [
        ("init",),
        ("demo",),
        ("store", "info"),
        ("store", "loads"),
        ("vocab", "load-athena"),
        ("vocab", "map"),
        ("pipeline", "run"),
        ("pipeline", "status"),
        ("pipeline", "steps"),
    ],
)
def test_every_verb_has_help_with_an_example(tmp_path: Path, verb: tuple[str, ...]) -> None:
    result = oncobase(tmp_path, *verb, "--help")
    assert result.returncode == 0, result.stderr
    assert "Example" in result.stdout or "example" in result.stdout.lower()
