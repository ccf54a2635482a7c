"""Pipeline step of the share domain: publish the data catalogue (HealthDCAT-AP JSON-LD)."""

from __future__ import annotations

from oncobase.pipeline import StepContext, StepOutcome, pipeline_step
from oncobase.share.catalogue import (
    CATALOGUE_FILE,
    OPTIONS_FILE,
    build_catalogue,
    catalogue_iri,
    catalogue_tables,
    read_catalogue_options,
    write_catalogue,
)
from oncobase.share.catalogue_check import check_catalogue


@pipeline_step(
    "catalogue",
    stage="publish",
    inputs=(
        *(f"table:{name}" for name in catalogue_tables()),
        f"file:{OPTIONS_FILE.as_posix()}",
        "package:oncobase.share/schema",
        "package:oncobase.cohorts/library",
    ),
    outputs=(f"file:{CATALOGUE_FILE.as_posix()}",),
    description="The data catalogue: every shareable dataset (OMOP tables, national cohorts, "
    "statistics) in HealthDCAT-AP JSON-LD, validated, written to share/catalogue.jsonld.",
)
def publish_catalogue(ctx: StepContext) -> StepOutcome:
    ctx.progress(0, 2, "describe the datasets")
    options = read_catalogue_options(ctx.home / OPTIONS_FILE)
    doc = build_catalogue(ctx.backend, base_url=ctx.settings.public_url, options=options)
    ctx.progress(1, 2, "validate")
    check_catalogue(doc)
    write_catalogue(doc, ctx.home / CATALOGUE_FILE)
    ctx.progress(2, 2)
    datasets = doc["dcat:dataset"]
    return StepOutcome(
        rows=len(datasets),
        summary=f"{len(datasets)} datasets described at {catalogue_iri(ctx.settings.public_url)}"
        ".jsonld",
    )
