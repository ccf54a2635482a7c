"""Gold evaluations: the hand-written set and generated reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oncobase.nlp import SCHEMA_KEYS, extract_reports, score
from oncobase.nlp._eds import get_pipeline

GOLD = Path(__file__).parent / "gold" / "handwritten.json"


def _load_hand() -> tuple[list[str], list[dict[str, Any]]]:
    rows = json.loads(GOLD.read_text(encoding="utf-8"))
    gold = [
        {k: r["gold"].get(k, False if k == "cancer" else None) for k in SCHEMA_KEYS} for r in rows
    ]
    return [r["text"] for r in rows], gold


def test_handwritten_gold() -> None:
    """66 reports in other styles than the generator's (sites, labs, typos, abbreviations,
    ypTNM, negations, earlier cancers, benign). H01-H34 were written with the extractor;
    H35-H66 were written afterwards and not tuned for. Reached: micro-F1 0.969 on all 66
    (1.000 on H01-H34, 0.937 on H35-H66); see docs/nlp.md for the per-field table."""
    texts, gold = _load_hand()
    assert len(texts) >= 60
    get_pipeline()
    predictions = extract_reports(texts)
    report = score(predictions, gold)
    assert report.micro_f1 >= 0.95, report.micro_f1
    assert report.fully_correct >= 0.75 * report.documents
    first = score(predictions[:34], gold[:34])  # regression guard on the first set
    assert first.micro_f1 >= 0.99, first.mismatches


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory: pytest.TempPathFactory) -> tuple[list[str], list[dict[str, Any]]]:
    import random

    from oncobase.synth import generate_nation

    out = tmp_path_factory.mktemp("nation")
    generate_nation(out, patients=800, seed=11)
    texts: dict[str, str] = {}
    for path in sorted((out / "feeds" / "pathology").glob("*/reports.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            texts[row["report_id"]] = row["text"]
    gold = [json.loads(line) for line in (out / "truth" / "pathology_gold.ndjson").open()]
    random.Random(5).shuffle(gold)
    gold = gold[:1000]
    assert len(gold) == 1000
    return [texts[g["report_id"]] for g in gold], gold


def test_synthetic_gold(synthetic: tuple[list[str], list[dict[str, Any]]]) -> None:
    """1,000 generated reports (seed 11). Reached: see docs/nlp.md."""
    texts, gold = synthetic
    report = score(extract_reports(texts), gold)
    for name, field in report.fields.items():
        assert field.precision >= 0.97, (name, field)
        assert field.recall >= 0.97, (name, field)
    assert report.micro_f1 >= 0.99
    assert report.fully_correct >= 0.95 * report.documents
