"""The registry-file path: the CLI on a hand-made file of 60+ tumours with known problems,
the French registry layout, and registry indicators against the synthetic nation's truth."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from _cases import COLUMNS, build_golden
from typer.testing import CliRunner

from oncobase import quality
from oncobase.cli.quality import app
from oncobase.quality import check_registry_file


def _write(path: Path, records: list[dict[str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS), lineterminator="\n")
        writer.writeheader()
        writer.writerows(records)
    return path


def test_golden_file_gives_exactly_the_expected_flags(tmp_path: Path) -> None:
    records, expected, _ = build_golden()
    assert len(records) >= 60
    families = {r["tumour_id"] for r in records}
    assert len(families) == len(records) - 1  # the duplicate-id case shares one id
    path = _write(tmp_path / "golden.csv", records)
    result = CliRunner().invoke(
        app, ["check-registry", str(path), "--format", "json", "--as-of", "2025-01-01"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert len(out) == len(records)
    levels = {"E": "error", "W": "warning"}
    for row, want in zip(out, expected, strict=True):
        assert {f["check"] for f in row["findings"]} == want, row
        worst = "ok"
        for check in want:
            worst = (
                "error"
                if levels[check[0]] == "error"
                else (worst if worst == "error" else "warning")
            )
        assert row["flag"] == worst


def test_cli_csv_table_and_report(tmp_path: Path) -> None:
    records, _, _ = build_golden()
    path = _write(tmp_path / "golden.csv", records[:10])
    runner = CliRunner()
    as_csv = runner.invoke(app, ["check-registry", str(path), "--format", "csv"])
    assert as_csv.exit_code == 0 and as_csv.output.startswith("tumour_id,flag,check,level,message")
    report = tmp_path / "report.html"
    table = runner.invoke(app, ["check-registry", str(path), "--report", str(report)])
    assert table.exit_code == 0 and "label" in table.output
    assert "<h1>Data quality report</h1>" in report.read_text()
    rules = runner.invoke(app, ["rules", "--format", "json"])
    assert len(json.loads(rules.output)) == len(quality.load_rules().rules)


def test_missing_file_is_a_clean_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["check-registry", str(tmp_path / "none.csv")])
    assert result.exit_code == 1


def test_french_layout(tmp_path: Path) -> None:
    path = tmp_path / "reg.csv"
    path.write_text(
        "registre;id_patient;num_tumeur;sexe;date_naissance;date_incidence;topographie;"
        "morphologie;comportement;grade;base_diagnostic;nom\n"
        "REG_1;A1;1;1;15/03/1950;01/06/2020;C619;8140;3;2;7;MARTIN\n"
        "REG_1;A2;1;1;15/03/1950;01/06/2020;C530;8070;3;2;7;DURAND\n",
        encoding="latin-1",
    )
    run = check_registry_file(path)
    assert [r["flag"] for r in run.tumours.to_records()] == ["ok", "error"]
    assert {x.source for x in run.labels} == {"REG_1"}
    assert "MARTIN" not in json.dumps(run.tumours.summary())


@pytest.fixture(scope="module")
def nation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from oncobase.synth import generate_nation

    out = tmp_path_factory.mktemp("nation")
    generate_nation(out, patients=1500, seed=3, feeds=("registries",))
    return out


def test_indicators_agree_with_the_synthetic_truth(nation: Path) -> None:
    tumours = pq.read_table(nation / "truth" / "tumours.parquet")
    records = pq.read_table(nation / "truth" / "source_records.parquet")
    files = sorted((nation / "feeds" / "registries").glob("*/tumours.csv"))
    assert files
    for path in files:
        registry = path.parent.name
        run = check_registry_file(path)
        ind = run.tumours.indicators
        row = ind.filter(
            pc.and_(pc.equal(ind["indicator"], "MV_PCT"), pc.equal(ind["site_group"], "ALL"))
        ).to_pylist()[0]
        persons = pc.filter(records["person_key"], pc.equal(records["source_id"], registry))
        truth = tumours.filter(pc.is_in(tumours["person_key"], value_set=persons))
        basis = truth["basis_of_diagnosis"].to_numpy()
        assert row["denominator"] == truth.num_rows
        assert row["value"] == pytest.approx(100.0 * (basis >= 5).mean(), abs=0.01)
        dco = ind.filter(
            pc.and_(pc.equal(ind["indicator"], "DCO_PCT"), pc.equal(ind["site_group"], "ALL"))
        ).to_pylist()[0]
        assert dco["value"] == pytest.approx(100.0 * (basis == 0).mean(), abs=0.01)
