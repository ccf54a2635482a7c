"""Pipeline step of the linkage domain: link the staged identity records into the index."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from oncobase.linkage.run import link_into_vault
from oncobase.pipeline import StepContext, StepOutcome, pipeline_step

STAGING = "staging/identity"


def read_staged_identities(home: Path) -> pa.Table | None:
    """The identity records staged by ingestion (``<home>/staging/identity/*.parquet``)."""
    files = sorted((home / STAGING).glob("*.parquet"))
    if not files:
        return None
    tables = [pq.read_table(f) for f in files]
    return pa.concat_tables(tables, promote_options="default")


@pipeline_step(
    "link",
    stage="link",
    inputs=(f"file:{STAGING}",),
    outputs=("file:vault/identity.duckdb",),
    description=(
        "Seal the staged identity records in the vault, link them (NIR pass, then Splink) "
        "and update the national person index."
    ),
)
def link_identities_step(ctx: StepContext) -> StepOutcome:
    records = read_staged_identities(ctx.home)
    if records is None or records.num_rows == 0:
        return StepOutcome(rows=0, summary=f"no identity records staged under {STAGING}/")
    steps = [
        "normalising identities",
        "sealing identities into the vault",
        "scoring candidate pairs",
        "clustering",
        "updating the person index",
    ]

    def say(text: str) -> None:
        done = steps.index(text) if text in steps else 0
        ctx.progress(done, len(steps), text)

    summary = link_into_vault(records, settings=ctx.settings, progress=say)
    ctx.progress(len(steps), len(steps))
    c = summary.counts
    text = (
        f"{summary.kind}: {c.get('records', 0):,} records → {c.get('persons', 0):,} persons, "
        f"{c.get('review_pairs', 0):,} pairs for review"
    )
    return StepOutcome(rows=c.get("records", 0), summary=text, details=dict(c))
