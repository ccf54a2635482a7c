"""Pipeline steps of ingestion: stage the synthetic feeds, then load staging into OMOP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from oncobase.ingest.deaths import stage_death_files
from oncobase.ingest.fhir import stage_fhir
from oncobase.ingest.load import load_staging
from oncobase.ingest.quarantine import store_quarantine
from oncobase.ingest.registry_csv import stage_registry_csv
from oncobase.ingest.report import summarise_stage
from oncobase.pipeline import StepContext, StepOutcome, pipeline_step


def stage_feeds(ctx: StepContext, feeds: Path) -> list[Any]:
    """Stage every feed found under ``feeds`` (the synthetic generator's layout)."""
    results: list[Any] = []
    registries = sorted(p for p in (feeds / "registries").glob("*") if p.is_dir())
    hospitals = sorted(p for p in (feeds / "hospitals").glob("*") if p.is_dir())
    deaths = sorted((feeds / "deaths").glob("*.txt"))
    total = len(registries) + len(hospitals) + (1 if deaths else 0)
    done = 0
    for folder in hospitals:
        ctx.progress(done, total, folder.name)
        results.append(stage_fhir(folder, settings=ctx.settings, backend=ctx.backend))
        done += 1
    for folder in registries:
        ctx.progress(done, total, folder.name)
        results.append(stage_registry_csv(sorted(folder.glob("*.csv")), settings=ctx.settings))
        done += 1
    if deaths:
        ctx.progress(done, total, "INSEE deaths")
        results.append(stage_death_files(deaths, settings=ctx.settings))
    ctx.progress(total, total)
    for result in results:
        if result.quarantine is not None:
            store_quarantine(ctx.backend, ctx.settings, result.quarantine, load_id=ctx.run_id)
    return results


@pipeline_step(
    "ingest",
    stage="ingest",
    inputs=("file:synth/feeds",),
    outputs=("file:staging/clinical",),
    description="Read the hospital FHIR exports, registry extracts and INSEE death files; "
    "validate, quarantine rejects, split identity from clinical data into staging.",
)
def ingest_feeds(ctx: StepContext) -> StepOutcome:
    feeds = ctx.settings.synth_path / "feeds"
    if not feeds.exists():
        return StepOutcome(summary=f"no feeds in {feeds}")
    summaries = [summarise_stage(r) for r in stage_feeds(ctx, feeds)]
    read = sum(s["read"] for s in summaries)
    accepted = sum(s["accepted"] for s in summaries)
    quarantined = sum(s["quarantined"] for s in summaries)
    return StepOutcome(
        rows=accepted,
        summary=f"{len(summaries)} sources: {read:,} read, {accepted:,} accepted, "
        f"{quarantined:,} quarantined",
    )


def _person_index(ctx: StepContext) -> pa.Table | None:
    """The linkage's person index when the linkage step has built one."""
    from oncobase import linkage

    person_index_table = getattr(linkage, "person_index_table", None)
    if person_index_table is None:
        return None
    index = person_index_table(ctx.settings)
    return index if index is not None and index.num_rows else None


@pipeline_step(
    "load",
    stage="load",
    inputs=("file:staging/clinical", "table:concept"),
    outputs=("table:person", "table:condition_occurrence"),
    description="Load staging into the OMOP store: persons from the linkage index, stable "
    "record ids, each source replaced atomically; person, death and observation periods rebuilt.",
)
def load_into_store(ctx: StepContext) -> StepOutcome:
    report = load_staging(
        ctx.backend, ctx.settings, person_index=_person_index(ctx), run_id=ctx.run_id
    )
    return StepOutcome(
        rows=report.rows,
        summary=f"{len(report.loaded)} sources loaded, {len(report.skipped)} unchanged",
    )
