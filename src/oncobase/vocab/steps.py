"""Pipeline step of the vocabulary domain: load the built-in vocabulary into the store."""

from __future__ import annotations

from oncobase.pipeline import StepContext, StepOutcome, pipeline_step
from oncobase.vocab.loader import load_builtin


@pipeline_step(
    "vocab",
    stage="setup",
    inputs=("package:oncobase.vocab/data",),
    outputs=("table:concept", "table:concept_relationship", "table:concept_ancestor"),
    description=(
        "Load the built-in vocabulary: ICD-10 chapter II, ICD-O-3, TNM 8, biomarkers, "
        "ATC L01/L02, départements."
    ),
)
def load_vocabulary(ctx: StepContext) -> StepOutcome:
    ctx.progress(0, 1, "built-in vocabulary")
    report = load_builtin(ctx.backend, run_id=ctx.run_id)
    ctx.progress(1, 1)
    summary = ", ".join(f"{table} {rows:,}" for table, rows in report.rows.items() if rows)
    return StepOutcome(rows=report.total, summary=summary, details=report.rows)
