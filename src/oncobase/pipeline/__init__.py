"""The pipeline runner: registered steps, run in order, recorded, skipped when unchanged."""

from __future__ import annotations

from oncobase.pipeline.registry import (
    STAGES,
    Step,
    StepOutcome,
    get_step,
    pipeline_step,
    registered_steps,
)
from oncobase.pipeline.runner import (
    RunReport,
    StepContext,
    StepResult,
    pipeline_status,
    run_pipeline,
    step_is_current,
)

__all__ = [
    "STAGES",
    "RunReport",
    "Step",
    "StepContext",
    "StepOutcome",
    "StepResult",
    "get_step",
    "pipeline_status",
    "pipeline_step",
    "registered_steps",
    "run_pipeline",
    "step_is_current",
]
