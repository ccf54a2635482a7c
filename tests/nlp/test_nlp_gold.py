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
BLIND = Path(__file__).parent / "gold" / "blind2.json"


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


def test_heldout_gold_tuning_set() -> None:
    """40 reports (X01-X40) written by an annotator who never saw the extractor. Scored
    blind at micro-F1 0.920 (25 of 40 fully correct); the general error classes they showed
    were then fixed (issue #8, unit tests in test_nlp_components.py), so this is now a
    tuning set: tuned score micro-F1 1.000 (40 of 40). The floor guards against regressions;
    it is no estimate of unseen reports (see the second blind set, docs/nlp.md)."""
    texts, gold = _load_hand(HELDOUT)
    assert len(texts) == 40
    report = score(extract_reports(texts), gold)
    assert report.micro_f1 >= 0.99, report.mismatches
    assert report.fully_correct >= 38, report.mismatches


def test_second_blind_set() -> None:
    """40 reports (Y01-Y40) by another annotator who never saw the extractor, scored once and
    never tuned on: the honest estimate for unseen reports, micro-F1 0.966 (P 0.981, R 0.952;
    28 of 40 fully correct). The issue asks for 0.95. Do not tune on this set."""
    texts, gold = _load_hand(BLIND)
    assert len(texts) == 40
    report = score(extract_reports(texts), gold)
    assert report.micro_f1 >= 0.95, report.micro_f1


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
