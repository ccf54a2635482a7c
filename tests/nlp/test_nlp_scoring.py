"""``score`` against hand-computed examples."""

from __future__ import annotations

import pytest

from oncobase.nlp import SCHEMA_KEYS, empty_result, score
from oncobase.nlp.scoring import normalise_value


def _doc(**values: object) -> dict[str, object]:
    doc = empty_result()
    doc.update(values)
    return doc


def test_light_normalisation() -> None:
    assert normalise_value("topography_icdo3", "C504") == normalise_value(
        "topography_icdo3", "c50.4"
    )
    assert normalise_value("morphology_icdo3", "85003") == "8500/3"
    assert normalise_value("T", "pT2a") == normalise_value("T", "2a")
    assert normalise_value("er_pct", 90) == normalise_value("er_pct", 90.0)
    assert normalise_value("kras", {"status": "mutated", "variant": "p.G12C"}) == normalise_value(
        "kras", {"status": "mutated", "variant": "G12C"}
    )


def test_hand_computed() -> None:
    gold = [
        _doc(cancer=True, T="2", er_pct=90.0),
        _doc(cancer=True, T="3", er_pct=None),
        _doc(cancer=False),
    ]
    pred = [
        _doc(cancer=True, T="pT2", er_pct=90),  # all correct
        _doc(cancer=True, T="2", er_pct=10.0),  # T wrong; er false positive
        _doc(cancer=True),  # cancer false positive
    ]
    report = score(pred, gold)
    t = report.fields["T"]
    assert (t.true_positive, t.predicted, t.gold, t.correct) == (1, 2, 2, 2)
    assert t.precision == pytest.approx(0.5) and t.recall == pytest.approx(0.5)
    er = report.fields["er_pct"]
    assert (er.true_positive, er.predicted, er.gold) == (1, 2, 1)
    assert er.accuracy == pytest.approx(2 / 3)
    cancer = report.fields["cancer"]
    assert (cancer.true_positive, cancer.predicted, cancer.gold) == (2, 3, 2)
    assert report.fully_correct == 1
    assert set(report.fields) == set(SCHEMA_KEYS)


def test_objects_match_as_a_whole() -> None:
    gold = [_doc(cancer=True, her2={"ihc": "2+", "ish": "amplified"})]
    pred = [_doc(cancer=True, her2={"ihc": "2+", "ish": None})]
    assert score(pred, gold).fields["her2"].true_positive == 0


def test_length_mismatch() -> None:
    with pytest.raises(ValueError, match="predictions for"):
        score([], [empty_result()])
