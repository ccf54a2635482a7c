from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from oncobase.config import Settings
from oncobase.linkage.steps import link_identities_step
from oncobase.pipeline import StepContext
from oncobase.pipeline.registry import _REGISTRY


def _ctx(settings: Settings) -> StepContext:
    step = _REGISTRY["link"]
    return StepContext(backend=None, settings=settings, run_id="r", step=step)  # type: ignore[arg-type]


def test_step_without_staging_does_nothing(settings: Settings) -> None:
    outcome = link_identities_step(_ctx(settings))
    assert outcome.rows == 0 and "no identity records" in outcome.summary


def test_step_links_staged_records(settings: Settings, noisy_records, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    folder = settings.home_path / "staging" / "identity"
    folder.mkdir(parents=True)
    pq.write_table(noisy_records.slice(0, 1200).drop(["person"]), folder / "batch.parquet")
    outcome = link_identities_step(_ctx(settings))
    assert outcome.rows == 1200 and "persons" in outcome.summary
