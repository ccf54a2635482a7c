"""Pipeline step of the synthetic-data domain: generate the demo nation once."""

from __future__ import annotations

from oncobase.pipeline import StepContext, StepOutcome, pipeline_step
from oncobase.synth.denominators import POPULATION_FILE, write_population_of
from oncobase.synth.generate import generate_nation, read_manifest


@pipeline_step(
    "synth",
    stage="synth",
    inputs=("package:oncobase.synth/data",),
    outputs=("file:synth/manifest.json",),
    description=(
        "Generate the synthetic French cancer population and its raw feeds (hospital FHIR, "
        "pathology reports, registry CSV, INSEE deaths) with ground truth."
    ),
)
def generate_synth(ctx: StepContext) -> StepOutcome:
    settings = ctx.settings
    out = settings.synth_path
    patients, seed = settings.synth_patients, settings.synth_seed
    manifest = read_manifest(out)
    if manifest and manifest.get("seed") == seed and manifest.get("patients") == patients:
        if not (out / POPULATION_FILE).exists():
            write_population_of(out)  # denominators of a nation generated before they existed
        return StepOutcome(
            rows=0, summary=f"synthetic nation already in {out} (seed {seed}, {patients:,})"
        )
    ctx.progress(0, patients, "synthetic nation")
    report = generate_nation(
        out,
        patients=patients,
        seed=seed,
        progress=ctx.progress,
    )
    total = sum(report.counts.values())
    return StepOutcome(
        rows=total,
        summary=f"{report.patients:,} cancer patients, {report.persons:,} persons in {out}",
        details=report.counts,
    )
