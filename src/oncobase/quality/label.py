"""The quality label of a dataset (one source of one run): A, B or C.

| label | records with an error | records with a warning | failed store checks (error level) |
|---|---|---|---|
| A | at most 0.1 % | at most 5 % | none |
| B | at most 1 % | at most 10 % | any |
| C | more | more | any |

Thresholds are set from the rates seen on accepted European registries (QCS: 0.17 % errors,
2.79 % warnings on 1.3 M Italian cases; Tagliabue 2023, NOTES_QUALITY.md §2).
"""

from __future__ import annotations

from dataclasses import dataclass

LABEL_THRESHOLDS: dict[str, tuple[float, float]] = {"A": (0.1, 5.0), "B": (1.0, 10.0)}


@dataclass(frozen=True, kw_only=True)
class QualityLabel:
    source: str
    label: str
    records: int
    error_pct: float
    warning_pct: float
    checks_failed: int
    reason: str


def assign_label(
    source: str, *, records: int, error_records: int, warning_records: int, checks_failed: int = 0
) -> QualityLabel:
    """The label of one dataset from its counts (see the module's table)."""
    error_pct = 100.0 * error_records / records if records else 0.0
    warning_pct = 100.0 * warning_records / records if records else 0.0
    a_err, a_warn = LABEL_THRESHOLDS["A"]
    b_err, b_warn = LABEL_THRESHOLDS["B"]
    if records == 0:
        label, reason = "C", "no records"
    elif error_pct <= a_err and warning_pct <= a_warn and checks_failed == 0:
        label, reason = "A", f"errors <= {a_err} %, warnings <= {a_warn} %, store checks passed"
    elif error_pct <= b_err and warning_pct <= b_warn:
        label = "B"
        reason = f"errors <= {b_err} %, warnings <= {b_warn} %"
        if checks_failed:
            reason += f"; {checks_failed} store check(s) failed"
    else:
        label = "C"
        reason = f"errors {error_pct:.2f} % or warnings {warning_pct:.2f} % above the B limits"
    return QualityLabel(
        source=source,
        label=label,
        records=records,
        error_pct=round(error_pct, 4),
        warning_pct=round(warning_pct, 4),
        checks_failed=checks_failed,
        reason=reason,
    )


def assign_labels(
    flags_by_source: dict[str, dict[str, int]], *, checks_failed: int = 0
) -> list[QualityLabel]:
    """Labels per source from ``{source: {"ok": n, "warning": n, "error": n}}``."""
    return [
        assign_label(
            source,
            records=sum(counts.values()),
            error_records=counts.get("error", 0),
            warning_records=counts.get("warning", 0),
            checks_failed=checks_failed,
        )
        for source, counts in sorted(flags_by_source.items())
    ]
