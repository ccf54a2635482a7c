"""``oncobase nlp pathology`` and ``oncobase nlp evaluate`` (the issue's interface)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from oncobase.cli.nlp import app
from oncobase.nlp import SCHEMA_KEYS

runner = CliRunner()
REPORTS = [
    {
        "id": "r1",
        "text": "Conclusion : adénocarcinome lieberkühnien du côlon sigmoïde, pT3 pN1a (1/15), "
        "R0. Statut MMR : pMMR.",
    },
    {"id": "r2", "text": "Conclusion : polype hyperplasique, absence de dysplasie."},
    {"id": "r3", "text": ""},
]


def _write(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return path


def test_pathology_writes_id_keys_and_evidence(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", REPORTS)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["pathology", str(source), "--output", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["r1", "r2", "r3"]
    assert list(rows[0]) == ["id", *SCHEMA_KEYS, "evidence"]
    assert (
        rows[0]["T"] == "3" and rows[0]["nodes_examined"] == 15 and rows[0]["mmr"] == "proficient"
    )
    assert rows[1]["cancer"] is False and rows[2]["cancer"] is False


def test_evaluate_gold_pred(tmp_path: Path) -> None:
    source = _write(tmp_path / "in.jsonl", REPORTS)
    out = tmp_path / "out.jsonl"
    assert runner.invoke(app, ["pathology", str(source), "-o", str(out)]).exit_code == 0
    gold_rows = [
        dict(
            REPORTS[0],
            gold={
                "cancer": True,
                "topography_icdo3": "C18.7",
                "morphology_icdo3": "8140/3",
                "prefix": "p",
                "T": "3",
                "N": "1a",
                "nodes_positive": 1,
                "nodes_examined": 15,
                "margin_status": "R0",
                "mmr": "proficient",
            },
        ),
        dict(REPORTS[1], gold={"cancer": False}),
        dict(REPORTS[2], gold={"cancer": False}),
    ]
    gold = _write(tmp_path / "gold.jsonl", gold_rows)
    result = runner.invoke(app, ["evaluate", str(gold), str(out), "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["documents"] == 3
    assert set(report["fields"]) == set(SCHEMA_KEYS)
    assert {"precision", "recall", "f1"} <= set(report["fields"]["T"])
    assert report["micro"]["f1"] == 1.0 and report["fully_correct"] == 3
    table = runner.invoke(app, ["evaluate", str(gold), str(out)])
    assert table.exit_code == 0 and "micro" in table.output and "precision" in table.output
    # older form still accepted
    assert runner.invoke(app, ["evaluate", "--gold", str(gold), str(out)]).exit_code == 0
    # usage errors are messages, not tracebacks
    assert runner.invoke(app, ["evaluate", str(gold)]).exit_code == 2
    assert runner.invoke(app, ["evaluate", str(gold), str(tmp_path / "none.jsonl")]).exit_code == 2


def test_pathology_invalid_utf8_line_and_bad_input(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    good = json.dumps(REPORTS[0], ensure_ascii=False).encode()
    bad = b'{"id": "r9", "text": "Conclusion : carcinome \xff\xfe du sein, pT2."}'
    source.write_bytes(good + b"\n" + bad + b"\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["pathology", str(source), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert rows[1]["id"] == "r9" and rows[1]["cancer"] is True and rows[1]["T"] == "2"

    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(b'{"id": "x", "text": \n')
    result = runner.invoke(app, ["pathology", str(broken), "-o", str(out)])
    assert result.exit_code == 2 and "not JSON" in result.output
    no_text = _write(tmp_path / "no_text.jsonl", [{"id": "x"}])
    result = runner.invoke(app, ["pathology", str(no_text), "-o", str(out)])
    assert result.exit_code == 2 and "'text'" in result.output
    missing = runner.invoke(app, ["pathology", str(tmp_path / "missing.jsonl"), "-o", str(out)])
    assert missing.exit_code == 2 and "No such file" in missing.output
