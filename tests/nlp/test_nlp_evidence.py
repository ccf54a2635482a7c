"""``evidence``: the span of the input each non-null key came from."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from oncobase.nlp import SCHEMA_KEYS, empty_result, extract_reports, score

Extract = Callable[[str], dict[str, Any]]
GOLD = Path(__file__).parent / "gold" / "handwritten.json"


def _forms(key: str, value: Any) -> list[str]:
    """Ways a value may be written in a report (for the keys whose value shows in the text)."""
    if value == 0 and key.endswith("_pct"):
        return ["0", "<1", "négatif"]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, float):
        return [str(value), str(value).replace(".", ",")]
    if key in ("T", "N", "M"):
        return [f"{key}{value}".lower()]
    if key == "her2":
        return [value["ihc"]] if value["ihc"] else ["her2"]
    return [str(value)]


CHECKED = ("T", "N", "er_pct", "pr_pct", "ki67_pct", "nodes_examined", "pdl1_tps_pct", "her2")


def test_evidence_spans_match_the_input() -> None:
    rows = json.loads(GOLD.read_text(encoding="utf-8"))
    texts = [r["text"] for r in rows]
    checked = 0
    for text, result in zip(texts, extract_reports(texts), strict=True):
        evidence = result["evidence"]
        present = {k for k in SCHEMA_KEYS if result[k] is not None and result[k] is not False}
        assert set(evidence) == present
        for key, span in evidence.items():
            assert set(span) == {"start", "end", "text"}
            assert 0 <= span["start"] < span["end"] <= len(text)
            assert text[span["start"] : span["end"]] == span["text"], key
            if key in CHECKED:
                folded = re.sub(r"\s+", "", span["text"]).lower()
                assert any(f.lower() in folded for f in _forms(key, result[key])), (key, span)
                checked += 1
    assert checked > 50


def test_evidence_offsets_survive_length_changing_preprocessing(extract: Extract) -> None:
    text = (
        "Récepteurs aux Œstrogènes : 80 %.\r\nADICAP : B H A 8 5 0 0\r\n"
        "Conclusion : carcinome canalaire infiltrant du sein, pT2 N1a, Ki-67 30 %."
    )
    result = extract(text)
    assert result["er_pct"] == 80.0 and result["T"] == "2"
    for span in result["evidence"].values():
        assert text[span["start"] : span["end"]] == span["text"]
    assert "80 %" in result["evidence"]["er_pct"]["text"]
    assert result["evidence"]["T"]["text"].startswith("pT2")


def test_no_cancer_no_evidence(extract: Extract) -> None:
    result = extract("Conclusion : polype hyperplasique, absence de dysplasie.")
    assert result["cancer"] is False and result["evidence"] == {}


def test_score_ignores_evidence() -> None:
    gold = empty_result()
    gold.update(cancer=True, T="2")
    pred = dict(gold, evidence={"T": {"start": 0, "end": 3, "text": "pT2"}})
    report = score([pred], [gold])
    assert report.fully_correct == 1 and set(report.fields) == set(SCHEMA_KEYS)
