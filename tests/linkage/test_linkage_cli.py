from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from oncobase.cli.link import app

runner = CliRunner()
COLUMNS = ("record_id,source,nir,last_name,birth_name,first_names,sex,birth_date,"
           "birth_place_code,postcode")  # fmt: skip


def _write_input(path: Path, records: pa.Table) -> None:
    pacsv.write_csv(records.drop(["person"]), path)


def test_dedupe_then_evaluate(tmp_path: Path, noisy_records: pa.Table) -> None:
    source, out, truth = tmp_path / "in.csv", tmp_path / "clusters.csv", tmp_path / "truth.csv"
    _write_input(source, noisy_records)
    pacsv.write_csv(noisy_records.select(["record_id", "person"]), truth)
    result = runner.invoke(app, ["dedupe", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    with out.open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == noisy_records.num_rows
    assert [r["record_id"] for r in rows] == noisy_records["record_id"].to_pylist()
    result = runner.invoke(app, ["evaluate", "--truth", str(truth), str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["f1"] >= 0.99


def test_malformed_rows_are_counted_not_fatal(
    tmp_path: Path, noisy_records: pa.Table, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "in.csv"
    _write_input(source, noisy_records.slice(0, 400))
    secret_name, secret_nir = "Zyxwvutsky", "190017510812345"
    with source.open("ab") as handle:
        handle.write(
            f"bad1,S1,{secret_nir},{secret_name},,Paul,M,1990-02-31,75056,75001\n".encode()
        )
        handle.write(b"bad2,S1,,,,,X,not-a-date,,\n")
        handle.write("bad3,S1,,Lef\xe8vre,,Ren\xe9,M,1950-01-01,,\n".encode("latin-1"))
        handle.write(b"bad4,S1,too,few\n")
    out = tmp_path / "clusters.csv"
    with caplog.at_level(logging.DEBUG):
        result = runner.invoke(app, ["dedupe", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output + caplog.text
    assert "not UTF-8" in text
    assert "wrong number of fields" in text
    assert "wrong key" in text and "unreadable" in text
    assert secret_name not in text and secret_nir not in text
    assert out.read_text().count("\n") == 400 + 3 + 1


def test_clear_errors(tmp_path: Path) -> None:
    missing = runner.invoke(app, ["dedupe", str(tmp_path / "nope.csv")])
    assert missing.exit_code != 0
    assert "not found" in str(missing.exception)
    bad = tmp_path / "bad.csv"
    bad.write_text("record_id,name\n1,Dupont\n")
    result = runner.invoke(app, ["dedupe", str(bad)])
    assert "lacks the column" in str(result.exception)
    assert "Dupont" not in str(result.exception)


def test_help_has_examples() -> None:
    result = runner.invoke(app, ["dedupe", "--help"])
    assert "Example" in result.output
