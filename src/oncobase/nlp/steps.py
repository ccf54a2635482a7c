"""Pipeline step of the NLP domain: extract the pathology feeds into staging."""

from __future__ import annotations

import orjson

from oncobase.nlp.extract import extract_reports
from oncobase.nlp.staging import read_reports, stage_pathology_lab
from oncobase.pipeline import StepContext, StepOutcome, pipeline_step


@pipeline_step(
    "extract",
    # Runs with ingestion: the extracted pathology sources must be linked and loaded like the
    # other feeds (the "extract" stage comes after the load).
    stage="ingest",
    inputs=("file:synth/feeds/pathology",),
    outputs=("file:staging/clinical", "file:nlp"),
    description="Read the pathology labs' French reports, extract tumour data (ICD-O-3, grade, "
    "pTNM, size, nodes, margins, biomarkers) with EDS-NLP, stage notes, diagnoses and cancer "
    "modifiers per lab, and write the extractions as JSON Lines under nlp/.",
)
def extract_pathology(ctx: StepContext) -> StepOutcome:
    feeds = ctx.settings.synth_path / "feeds" / "pathology"
    files = sorted(feeds.glob("*/reports.ndjson")) if feeds.exists() else []
    if not files:
        return StepOutcome(summary=f"no pathology feeds in {feeds}")
    out_dir = ctx.settings.home_path / "nlp"
    out_dir.mkdir(parents=True, exist_ok=True)
    ctx.progress(0, len(files) + 1, "extracting")
    per_lab = [[r for r in read_reports(p) if isinstance(r.get("text"), str)] for p in files]
    every = extract_reports([r["text"] for lab in per_lab for r in lab], processes=2)
    reports = cancers = rows = 0
    offset = 0
    with (out_dir / "pathology_extractions.jsonl").open("wb") as handle:
        for done, (path, lab) in enumerate(zip(files, per_lab, strict=True)):
            ctx.progress(done + 1, len(files) + 1, path.parent.name)
            counts, extractions = stage_pathology_lab(
                path,
                settings=ctx.settings,
                reports=lab,
                extractions=every[offset : offset + len(lab)],
            )
            offset += len(lab)
            for extraction in extractions:
                handle.write(orjson.dumps(extraction) + b"\n")
            reports += len(extractions)
            cancers += sum(1 for e in extractions if e["cancer"])
            rows += sum(counts.values())
    ctx.progress(len(files) + 1, len(files) + 1)
    return StepOutcome(
        rows=rows,
        summary=f"{len(files)} labs: {reports:,} reports, {cancers:,} cancers extracted",
        details={"reports": reports, "cancers": cancers},
    )
