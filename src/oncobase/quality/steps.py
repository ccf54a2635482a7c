"""Pipeline step of the quality domain: check the store after ingestion and linkage."""

from __future__ import annotations

from oncobase.pipeline import StepContext, StepOutcome, pipeline_step
from oncobase.quality.run import run_quality


@pipeline_step(
    "quality",
    stage="quality",
    inputs=(
        "table:condition_occurrence",
        "table:person",
        "table:death",
        "table:observation_period",
        "table:measurement",
    ),
    outputs=(
        "table:quality__runs",
        "table:quality__results",
        "table:quality__issues",
        "table:quality__indicators",
        "table:quality__labels",
    ),
    description="IARC/ENCR tumour checks, multiple primaries and DQD-style store checks; "
    "results, indicators and a quality label per source.",
)
def check_store_quality(ctx: StepContext) -> StepOutcome:
    ctx.progress(0, 1, "quality checks")
    run = run_quality(ctx.backend)
    ctx.progress(1, 1)
    labels = ", ".join(f"{x.source} {x.label}" for x in run.labels) or "no tumours"
    return StepOutcome(
        rows=run.tables["quality__issues"].num_rows,
        summary=f"{run.tumours.records:,} tumours: {run.tumours.count_records('error'):,} with "
        f"errors, {run.tumours.count_records('warning'):,} with warnings; labels: {labels}",
        details={
            "records": run.tumours.records,
            "error_records": run.tumours.count_records("error"),
            "warning_records": run.tumours.count_records("warning"),
        },
    )
