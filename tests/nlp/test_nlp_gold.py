"""Gold evaluations: the hand-written set and generated reports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from oncobase.nlp import SCHEMA_KEYS, extract_reports, score
from oncobase.nlp._eds import get_pipeline

GOLD = Path(__file__).parent / "gold" / "handwritten.json"
HELDOUT = Path(__file__).parent / "gold" / "heldout.json"


def _load_hand(path: Path = GOLD) -> tuple[list[str], list[dict[str, Any]]]:
    rows = json.loads(path.read_text(encoding="utf-8"))
    gold = [
        {k: r["gold"].get(k, False if k == "cancer" else None) for k in SCHEMA_KEYS} for r in rows
    ]
    return [r["text"] for r in rows], gold


def test_handwritten_gold() -> None:
    """66 reports in other styles than the generator's (sites, labs, typos, abbreviations,
    ypTNM, negations, earlier cancers, benign). H01-H34 were written with the extractor;
    H35-H66 were written afterwards and first scored blind (micro-F1 0.937), then the error
    classes they showed were fixed (issue #8): the whole set is now a regression set (micro-F1
    1.000; see docs/nlp.md). A blind estimate needs reports the extractor was not tuned on."""
    texts, gold = _load_hand()
    assert len(texts) >= 60
    get_pipeline()
    predictions = extract_reports(texts)
    report = score(predictions, gold)
    assert report.micro_f1 >= 0.95, report.micro_f1
    assert report.fully_correct >= 0.75 * report.documents
    first = score(predictions[:34], gold[:34])  # regression guard on the first set
    assert first.micro_f1 >= 0.99, first.mismatches
    second = score(predictions[34:], gold[34:])  # and on the set tuned for in issue #8
    assert second.micro_f1 >= 0.98, second.mismatches


def test_heldout_gold_scored_blind() -> None:
    """40 reports (X01-X40) written by an annotator who never saw the extractor, and never
    tuned on: the honest estimate. Scored blind at micro-F1 0.920 (25 of 40 fully correct);
    the floor guards against regressions. Do not tune the extractor on this set: when its
    errors are fixed, it becomes a tuning set and a new blind set must be written."""
    texts, gold = _load_hand(HELDOUT)
    assert len(texts) == 40
    report = score(extract_reports(texts), gold)
    assert report.micro_f1 >= 0.90, report.micro_f1
    assert report.fully_correct >= 24, report.fully_correct


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
