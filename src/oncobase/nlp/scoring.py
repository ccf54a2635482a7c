"""Scoring of extractions against gold (PATHOLOGY_SCHEMA.md, "Scoring").

Exact match per field after light normalisation (case and spaces; ``C504`` = ``C50.4``;
``85003`` = ``8500/3``; a prefix inside T/N/M tolerated; numbers compared as numbers;
variants without ``p.``). Nulls count: a value where the gold is null is a false positive,
a null where the gold has a value a false negative, a wrong value both. Object fields
(``her2``, genes) match as a whole. Per field: accuracy over all documents, precision
(correct / predicted non-null), recall (correct / gold non-null); plus fully correct documents.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from oncobase.nlp.schema import SCHEMA_KEYS

__all__ = ["FieldScore", "ScoreReport", "normalise_value", "score"]


@dataclass(frozen=True, kw_only=True)
class FieldScore:
    field: str
    correct: int  # documents where prediction == gold (nulls included)
    true_positive: int  # non-null gold predicted exactly
    predicted: int  # non-null predictions
    gold: int  # non-null gold values
    documents: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.documents if self.documents else 1.0

    @property
    def precision(self) -> float:
        return self.true_positive / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.true_positive / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass(frozen=True, kw_only=True)
class ScoreReport:
    documents: int
    fully_correct: int
    fields: dict[str, FieldScore] = field(default_factory=dict)
    mismatches: list[tuple[int, str, Any, Any]] = field(default_factory=list)

    @property
    def micro_precision(self) -> float:
        predicted = sum(f.predicted for f in self.fields.values())
        tp = sum(f.true_positive for f in self.fields.values())
        return tp / predicted if predicted else 1.0

    @property
    def micro_recall(self) -> float:
        gold = sum(f.gold for f in self.fields.values())
        tp = sum(f.true_positive for f in self.fields.values())
        return tp / gold if gold else 1.0

    @property
    def micro_f1(self) -> float:
        p, r = self.micro_precision, self.micro_recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "fully_correct": self.fully_correct,
            "micro": {
                "precision": self.micro_precision,
                "recall": self.micro_recall,
                "f1": self.micro_f1,
            },
            "fields": {
                name: {
                    "accuracy": f.accuracy,
                    "precision": f.precision,
                    "recall": f.recall,
                    "f1": f.f1,
                    "gold": f.gold,
                    "predicted": f.predicted,
                    "true_positive": f.true_positive,
                }
                for name, f in self.fields.items()
            },
        }


def _text(value: Any) -> str:
    return re.sub(r"\s+", "", str(value)).lower()


def normalise_value(key: str, value: Any) -> Any:  # noqa: PLR0911 (one case per field kind)
    """The comparable form of a value of ``key`` (None stays None)."""
    if value is None:
        return None
    if key == "cancer":
        return bool(value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, normalise_value(k, v)) for k, v in value.items()))
    if key == "variant":
        text = _text(value)
        return text[2:] if text.startswith("p.") else text
    if key == "topography_icdo3":
        text = _text(value).upper().replace(".", "")
        return f"{text[:3]}.{text[3:]}" if len(text) == 4 else text
    if key == "morphology_icdo3":
        text = _text(value).replace("/", "")
        return f"{text[:4]}/{text[4:]}" if len(text) == 5 else text
    if key in ("T", "N", "M"):
        text = _text(value)
        text = re.sub(r"^(?:yp|py|yc|p|c|u|r|a)?" + key.lower(), "", text)
        return text
    if key == "prefix":
        return _text(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    text = _text(value)
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return text


def score(
    predictions: Sequence[Mapping[str, Any]],
    gold: Sequence[Mapping[str, Any]],
    *,
    keys: Sequence[str] = SCHEMA_KEYS,
) -> ScoreReport:
    """Score ``predictions`` against ``gold`` (same order, same length)."""
    if len(predictions) != len(gold):
        raise ValueError(f"{len(predictions)} predictions for {len(gold)} gold documents")
    counts = {k: [0, 0, 0, 0] for k in keys}  # correct, tp, predicted, gold
    fully = 0
    mismatches: list[tuple[int, str, Any, Any]] = []
    for index, (pred, ref) in enumerate(zip(predictions, gold, strict=True)):
        all_ok = True
        for key in keys:
            p = normalise_value(key, pred.get(key))
            g = normalise_value(key, ref.get(key))
            if key == "cancer":
                p, g = bool(p), bool(g)
            c = counts[key]
            ok = p == g
            c[0] += ok
            present_p = p not in (None, False) if key == "cancer" else p is not None
            present_g = g not in (None, False) if key == "cancer" else g is not None
            c[2] += present_p
            c[3] += present_g
            c[1] += ok and present_g
            if not ok:
                all_ok = False
                mismatches.append((index, key, ref.get(key), pred.get(key)))
        fully += all_ok
    fields = {
        k: FieldScore(
            field=k,
            correct=c[0],
            true_positive=c[1],
            predicted=c[2],
            gold=c[3],
            documents=len(gold),
        )
        for k, c in counts.items()
    }
    return ScoreReport(
        documents=len(gold), fully_correct=fully, fields=fields, mismatches=mismatches
    )
