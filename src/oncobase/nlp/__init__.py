"""French pathology report extraction on EDS-NLP (PATHOLOGY_SCHEMA.md).

``extract_report(text)`` → one object with exactly the schema keys; ``extract_reports``
for batches (``nlp.pipe``, optional process pool); ``score`` against gold.
"""

from __future__ import annotations

from oncobase.nlp.extract import extract_report, extract_reports
from oncobase.nlp.schema import SCHEMA_KEYS, empty_result
from oncobase.nlp.scoring import FieldScore, ScoreReport, score

__all__ = [
    "SCHEMA_KEYS",
    "FieldScore",
    "ScoreReport",
    "empty_result",
    "extract_report",
    "extract_reports",
    "score",
]
