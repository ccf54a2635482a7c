"""``oncobase stats`` verbs through Typer's CliRunner, on the R reference datasets."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from oncobase.cli.stats import app

REF = Path(__file__).parents[1] / "reference"
runner = CliRunner()


def test_survival_km_json_matches_survfit_summary() -> None:
    result = runner.invoke(
        app,
        [
            "survival",
            str(REF / "km" / "lung.csv"),
            "--time",
            "time",
            "--event",
            "status",
            "--method",
            "km",
            "--times",
            "90,365",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    ref = pacsv.read_csv(REF / "km" / "km_lung_summary_none_log.csv").to_pylist()
    want = {r["time"]: r for r in ref}
    assert [r["time"] for r in rows] == [90.0, 365.0]
    for row in rows:
        assert set(row) == {
            "group",
            "time",
            "estimate",
            "std_err",
            "ci_lower",
            "ci_upper",
            "n_at_risk",
        }
        assert row["estimate"] == pytest.approx(want[row["time"]]["surv"], rel=1e-6)
        assert row["n_at_risk"] == want[row["time"]]["n_risk"]


def test_survival_pohar_perme_by_group_table_output() -> None:
    result = runner.invoke(
        app,
        [
            "survival",
            str(REF / "relsurv" / "colrec.csv"),
            "--time",
            "time",
            "--event",
            "stat",
            "--method",
            "pohar-perme",
            "--age",
            "age_years",
            "--sex",
            "sex",
            "--year",
            "diag",
            "--ratetable",
            str(REF / "relsurv" / "slopop.csv"),
            "--times",
            "365,1826",
            "--by",
            "site",
            "--format",
            "csv",
        ],
    )
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("group,time,estimate")
    assert {line.split(",")[0] for line in lines[1:]} == {"colon", "rectum"}


def test_survival_relative_needs_ratetable() -> None:
    result = runner.invoke(
        app,
        [
            "survival",
            str(REF / "km" / "lung.csv"),
            "--time",
            "time",
            "--event",
            "status",
            "--method",
            "ederer2",
        ],
    )
    assert result.exit_code == 1
    assert "needs --age" in result.output


def test_asr_json(tmp_path: Path) -> None:
    src = pacsv.read_csv(REF / "asr" / "asr_input.csv")
    path = tmp_path / "in.csv"
    pacsv.write_csv(src, path)
    result = runner.invoke(
        app,
        [
            "asr",
            str(path),
            "--age-group",
            "age_group",
            "--cases",
            "cases",
            "--person-years",
            "person_years",
            "--standard",
            "esp2013",
            "--by",
            "population",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = {r["group"]: r for r in json.loads(result.stdout)}
    ref = [
        r
        for r in pacsv.read_csv(REF / "asr" / "asr_epitools.csv").to_pylist()
        if r["standard"] == "esp2013" and r["conf_level"] == 0.95
    ]
    for r in ref:
        got = rows[r["population"]]
        assert got["asr"] == pytest.approx(r["adj_rate"] * 1e5, rel=1e-6)
        assert got["ci_lower"] == pytest.approx(r["lci"] * 1e5, rel=1e-6)
        assert got["ci_upper"] == pytest.approx(r["uci"] * 1e5, rel=1e-6)
        assert 0 < got["cum_risk_0_74"] < 100


def test_asr_unknown_age_group_exits_1(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    pacsv.write_csv(pa.table({"ag": ["0-4", "5-10"], "c": [1, 2], "py": [10, 10]}), path)
    result = runner.invoke(
        app, ["asr", str(path), "--age-group", "ag", "--cases", "c", "--person-years", "py"]
    )
    assert result.exit_code == 1
    assert "row 1 has unknown age group '5-10'" in result.output


def test_incidence_trend_prevalence_run(tmp_path: Path) -> None:
    path = tmp_path / "yearly.csv"
    pacsv.write_csv(
        pa.table(
            {"year": [2000, 2001, 2002, 2003], "cases": [100, 103, 106, 109], "py": [1e6] * 4}
        ),
        path,
    )
    trend = runner.invoke(
        app,
        [
            "trend",
            str(path),
            "--year",
            "year",
            "--cases",
            "cases",
            "--person-years",
            "py",
            "--format",
            "json",
        ],
    )
    assert trend.exit_code == 0, trend.output
    assert json.loads(trend.stdout)[0]["apc"] == pytest.approx(2.9, abs=0.2)
    inc = runner.invoke(app, ["incidence", str(path), "--cases", "cases", "--person-years", "py"])
    assert inc.exit_code == 0, inc.output
    dx = tmp_path / "dx.csv"
    pacsv.write_csv(
        pa.table({"dx": ["2020-01-01", "2010-01-01"], "end": ["2024-01-01", "2011-01-01"]}), dx
    )
    prev = runner.invoke(
        app,
        [
            "prevalence",
            str(dx),
            "--diagnosis-date",
            "dx",
            "--end-date",
            "end",
            "--index-date",
            "2023-01-01",
            "--format",
            "json",
        ],
    )
    assert prev.exit_code == 0, prev.output
    assert {r["measure"]: r["count"] for r in json.loads(prev.stdout)}["complete"] == 1


@pytest.mark.parametrize("verb", ["survival", "asr", "incidence", "prevalence", "trend"])
def test_help_has_example(verb: str) -> None:
    result = runner.invoke(app, [verb, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.output
