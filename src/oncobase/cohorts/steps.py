"""Pipeline step of the cohort domain: build every built-in cohort on the store."""

from __future__ import annotations

from oncobase.cohorts.build import build_cohort
from oncobase.cohorts.library import list_cohorts
from oncobase.pipeline import StepContext, StepOutcome, pipeline_step


@pipeline_step(
    "cohorts",
    stage="cohorts",
    inputs=(
        "table:condition_occurrence",
        "table:person",
        "table:location",
        "table:death",
        "table:observation_period",
        "table:measurement",
        "table:drug_exposure",
        "table:procedure_occurrence",
        "operational:share__optouts",
    ),
    outputs=("table:cohort", "table:cohort_definition"),
    description="The national cohorts of poor-prognosis cancers, written to OMOP cohort and "
    "cohort_definition with their attrition and build record; research opt-outs excluded.",
)
def build_national_cohorts(ctx: StepContext) -> StepOutcome:
    from oncobase.share import research_exclusions  # the opt-outs in force, audited

    excluded = research_exclusions(ctx.settings, applied_by="pipeline:cohorts")
    definitions = list_cohorts()
    members = 0
    parts: list[str] = []
    for i, definition in enumerate(definitions):
        ctx.progress(i, len(definitions), definition.name)
        build = build_cohort(ctx.backend, definition, excluded_person_ids=excluded)
        members += build.members
        parts.append(f"{definition.name} {build.members:,}")
    ctx.progress(len(definitions), len(definitions))
    return StepOutcome(rows=members, summary="; ".join(parts))
