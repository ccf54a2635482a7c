"""The pipeline runner on a real DuckDB store, with steps made for the test."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from oncobase.config import Settings
from oncobase.errors import PipelineError
from oncobase.pipeline import (
    STAGES,
    Step,
    StepContext,
    StepOutcome,
    pipeline_status,
    registered_steps,
    run_pipeline,
)
from oncobase.store import Backend, bulk_load, connect, list_loads


class Calls:
    def __init__(self) -> None:
        self.names: list[str] = []


def make_steps(calls: Calls, *, fail_at: str | None = None) -> list[Step]:
    """feed (reads a file, writes location) → count (reads location, writes care_site)."""

    def feed(ctx: StepContext) -> StepOutcome:
        calls.names.append("feed")
        if fail_at == "feed":
            raise ValueError("feed file is unreadable")
        lines = (ctx.home / "feed.txt").read_text().split()
        ctx.backend.execute("DELETE FROM location")
        data = pa.table({"location_id": list(range(1, len(lines) + 1)), "county": lines})
        result = bulk_load(
            ctx.backend, "location", data, step="feed", source="feed.txt", run_id=ctx.run_id
        )
        return StepOutcome(rows=result.rows_accepted, summary=f"{len(lines)} places")

    def count(ctx: StepContext) -> StepOutcome:
        calls.names.append("count")
        if fail_at == "count":
            raise PipelineError("count cannot run: no places")
        n = ctx.backend.count_rows("location")
        ctx.backend.execute("DELETE FROM care_site")
        bulk_load(
            ctx.backend,
            "care_site",
            pa.table({"care_site_id": [n]}),
            step="count",
            source="location",
            run_id=ctx.run_id,
        )
        return StepOutcome(rows=1)

    return [
        Step(
            name="feed",
            stage="ingest",
            func=feed,
            inputs=("file:feed.txt",),
            outputs=("table:location",),
            description="load places",
        ),
        Step(
            name="count",
            stage="stats",
            func=count,
            inputs=("table:location",),
            outputs=("table:care_site",),
            description="count places",
        ),
    ]


@pytest.fixture
def store(home: Settings) -> Backend:
    home.ensure_home()
    (home.home_path / "feed.txt").write_text("75 69 13")
    return connect(settings=home)


def test_runs_in_order_and_records_each_step(store: Backend, home: Settings) -> None:
    calls = Calls()
    report = run_pipeline(store, home, steps=make_steps(calls), show_progress=False)
    assert calls.names == ["feed", "count"]
    assert [r.status for r in report.results] == ["success", "success"]
    assert store.scalar("SELECT care_site_id FROM care_site") == 3
    runs = list_loads(store, step="feed").to_pylist()
    pipeline_runs = [r for r in runs if r["source"] == "pipeline"]
    assert pipeline_runs[0]["status"] == "success"
    assert pipeline_runs[0]["run_id"] == report.run_id
    assert pipeline_runs[0]["input_hash"]


def test_unchanged_inputs_are_skipped_and_changed_inputs_rerun(
    store: Backend, home: Settings
) -> None:
    calls = Calls()
    steps = make_steps(calls)
    run_pipeline(store, home, steps=steps, show_progress=False)
    second = run_pipeline(store, home, steps=steps, show_progress=False)
    assert [r.status for r in second.results] == ["skipped", "skipped"]
    assert calls.names == ["feed", "count"]
    (home.home_path / "feed.txt").write_text("75 69 13 33")
    third = run_pipeline(store, home, steps=steps, show_progress=False)
    assert [r.status for r in third.results] == ["success", "success"]
    assert store.scalar("SELECT care_site_id FROM care_site") == 4
    status = pipeline_status(store, home, steps=steps).to_pylist()
    assert [s["up_to_date"] for s in status] == [True, True]


def test_from_and_only_force_the_named_steps(store: Backend, home: Settings) -> None:
    calls = Calls()
    steps = make_steps(calls)
    run_pipeline(store, home, steps=steps, show_progress=False)
    calls.names.clear()
    report = run_pipeline(store, home, steps=steps, only="count", show_progress=False)
    assert calls.names == ["count"]
    assert [r.name for r in report.results] == ["count"]
    calls.names.clear()
    report = run_pipeline(store, home, steps=steps, start="feed", show_progress=False)
    # feed is forced; count's input (location) was rewritten, so count re-runs too.
    assert calls.names == ["feed", "count"]
    with pytest.raises(PipelineError, match="No pipeline step named 'nope'"):
        run_pipeline(store, home, steps=steps, only="nope", show_progress=False)
    with pytest.raises(PipelineError, match="either --only or --from"):
        run_pipeline(store, home, steps=steps, only="feed", start="count", show_progress=False)


def test_failing_step_stops_the_run_and_keeps_earlier_results(
    store: Backend, home: Settings
) -> None:
    calls = Calls()
    run_pipeline(store, home, steps=make_steps(calls), show_progress=False)
    (home.home_path / "feed.txt").write_text("75 69")
    with pytest.raises(PipelineError, match="Step 'count' failed: count cannot run") as info:
        run_pipeline(store, home, steps=make_steps(calls, fail_at="count"), show_progress=False)
    assert "--from count" in str(info.value)
    assert store.count_rows("location") == 2  # the feed step's new result is kept
    assert store.scalar("SELECT care_site_id FROM care_site") == 3  # the last good count stays
    last = list_loads(store, step="count").to_pylist()[0]
    assert (last["status"], last["source"]) == ("failed", "pipeline")
    status = {
        s["step"]: s for s in pipeline_status(store, home, steps=make_steps(calls)).to_pylist()
    }
    assert status["count"]["last_status"] == "failed"
    assert status["count"]["up_to_date"] is False


def test_unexpected_exception_is_reported_with_its_type(store: Backend, home: Settings) -> None:
    calls = Calls()
    with pytest.raises(PipelineError, match="ValueError: feed file is unreadable"):
        run_pipeline(store, home, steps=make_steps(calls, fail_at="feed"), show_progress=False)
    assert calls.names == ["feed"]


def test_registered_steps_follow_the_stage_order() -> None:
    steps = registered_steps()
    assert "vocab" in [s.name for s in steps]
    order = [STAGES.index(s.stage) for s in steps]
    assert order == sorted(order)


def test_missing_file_input_fingerprints_as_absent(
    store: Backend, home: Settings, tmp_path: Path
) -> None:
    calls = Calls()
    (home.home_path / "feed.txt").unlink()
    with pytest.raises(PipelineError, match="feed"):
        run_pipeline(store, home, steps=make_steps(calls), show_progress=False)


def test_operational_input_changes_with_a_research_opt_out(store: Backend, home: Settings) -> None:
    """The cohorts step declares the opt-out table: recording one makes the step stale."""
    from oncobase.pipeline import get_step
    from oncobase.pipeline.runner import _input_hash
    from oncobase.share import record_optout
    from oncobase.store.operational import engine_of, open_operational

    step = get_step("cohorts")
    assert "operational:share__optouts" in step.inputs
    before = _input_hash(step, store, home)  # no operational store yet: "absent"
    factory = open_operational(home.resolved_operational_url)
    try:
        assert _input_hash(step, store, home) == before  # empty table reads as before
        record_optout(factory, 42, by="clinician-1", channel="clinician")
        after = _input_hash(step, store, home)
        assert after != before
        assert _input_hash(step, store, home) == after  # stable while nothing changes
    finally:
        engine_of(factory).dispose()
