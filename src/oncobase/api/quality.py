"""Data-quality page content: loads, table counts, quarantine reasons and samples.

The quarantine's raw content never leaves: only reason, source, file, location and hash.
Richer checks come from :mod:`oncobase.quality` when that package is installed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from oncobase.ingest.quarantine import list_quarantine
from oncobase.store import Backend, list_loads

COUNTED_TABLES = (
    "person",
    "condition_occurrence",
    "measurement",
    "drug_exposure",
    "procedure_occurrence",
    "episode",
    "note",
    "death",
    "ingest__quarantine",
)


@dataclass(kw_only=True)
class QualityView:
    loads: list[dict[str, Any]]
    counts: dict[str, int]
    reasons: dict[str, int]
    samples: list[dict[str, Any]]
    checks: dict[str, Any] | None = None
    checks_note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def quality_view(backend: Backend) -> QualityView:
    tables = set(backend.list_tables())
    counts = {t: backend.count_rows(t) for t in COUNTED_TABLES if t in tables}
    loads: list[dict[str, Any]] = []
    if "platform__loads" in tables:
        loads = list_loads(backend, limit=30).select(
            ["step", "source", "status", "rows_read", "rows_accepted", "rows_quarantined",
             "started_at"]
        ).to_pylist()  # fmt: skip
    reasons: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    if "ingest__quarantine" in tables:
        for row in backend.query_arrow(
            "SELECT reason, count(*) AS n FROM ingest__quarantine GROUP BY reason "
            "ORDER BY n DESC LIMIT 50"
        ).to_pylist():
            reasons[str(row["reason"])] = int(row["n"])
        samples = (
            list_quarantine(backend, limit=20)
            .select(["quarantined_at", "source", "file", "location", "reason", "raw_sha256"])
            .to_pylist()
        )
    view = QualityView(loads=loads, counts=counts, reasons=reasons, samples=samples)
    summary = _optional("oncobase.quality", "quality_summary")
    if summary is None:
        view.checks_note = "not available yet"
    else:
        try:
            view.checks = summary(backend)
        except Exception as exc:  # a missing table in a young store: show why, keep the page
            view.checks_note = f"quality checks could not run: {type(exc).__name__}"
    return view


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    """A function of a package other engineers are building, or None while it is absent."""
    try:
        imported = __import__(module, fromlist=[name])
    except ImportError:
        return None
    found = getattr(imported, name, None)
    return found if callable(found) else None


def cohorts_api() -> dict[str, Callable[..., Any]] | None:
    """``list_cohorts``, ``load_cohort``, ``cohort_summary`` of :mod:`oncobase.cohorts`."""
    names = ("list_cohorts", "load_cohort", "cohort_summary")
    found = {n: _optional("oncobase.cohorts", n) for n in names}
    if any(v is None for v in found.values()):
        return None
    return {k: v for k, v in found.items() if v is not None}
