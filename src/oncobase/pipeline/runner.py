"""Running the registered steps in order, recording each run, skipping unchanged inputs."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from oncobase import __version__
from oncobase.config import Settings
from oncobase.errors import OncobaseError, PipelineError
from oncobase.logging import get_logger
from oncobase.pipeline.fingerprint import fingerprint_inputs, resource_exists
from oncobase.pipeline.registry import Step, StepOutcome, registered_steps
from oncobase.store import Backend, LoadRecord, create_store, finish_load, record_load
from oncobase.store.metadata import new_id

log = get_logger(__name__)

PIPELINE_SOURCE = "pipeline"


@dataclass(kw_only=True)
class StepContext:
    """What a step receives: the store, the settings, the run id and a progress reporter."""

    backend: Backend
    settings: Settings
    run_id: str
    step: Step
    _advance: Callable[[float, float | None, str | None], None] = field(
        default=lambda done, total, text: None, repr=False
    )

    @property
    def home(self) -> Path:
        return self.settings.home_path

    def progress(self, done: float, total: float | None = None, text: str | None = None) -> None:
        """Report progress of long work (shown as the step's progress bar)."""
        self._advance(done, total, text)


@dataclass(frozen=True, kw_only=True)
class StepResult:
    name: str
    status: str  # success, skipped, failed
    rows: int
    seconds: float
    summary: str


@dataclass(kw_only=True)
class RunReport:
    run_id: str
    results: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(r.status != "failed" for r in self.results)


def _last_pipeline_run(backend: Backend, step: str) -> dict[str, object] | None:
    rows = backend.query_arrow(
        "SELECT load_id, input_hash, status, rows_accepted, started_at, ended_at, message "
        "FROM platform__loads WHERE step = $1 AND source = $2 AND status <> 'skipped' "
        "ORDER BY started_at DESC LIMIT 1",
        (step, PIPELINE_SOURCE),
    ).to_pylist()
    return rows[0] if rows else None


def select_steps(
    steps: list[Step], *, only: str | None = None, start: str | None = None
) -> list[Step]:
    """The steps a run covers: all, ``only`` one, or ``start`` and every later one."""
    if only and start:
        raise PipelineError("Give either --only or --from, not both")
    by_name = {s.name: s for s in steps}
    for name in (only, start):
        if name and name not in by_name:
            raise PipelineError(
                f"No pipeline step named {name!r}; known steps: {', '.join(by_name)}"
            )
    if only:
        return [by_name[only]]
    if start:
        return steps[steps.index(by_name[start]) :]
    return steps


def _input_hash(step: Step, backend: Backend, settings: Settings) -> str:
    return fingerprint_inputs(
        step.inputs,
        backend=backend,
        home=settings.home_path,
        salt=f"{step.name}:{step.version}:{__version__}",
        operational_url=settings.resolved_operational_url,
    )


def step_is_current(step: Step, backend: Backend, settings: Settings) -> bool:
    """True when the step's last run succeeded on the same inputs and its outputs exist."""
    last = _last_pipeline_run(backend, step.name)
    if last is None or last["status"] != "success":
        return False
    if last["input_hash"] != _input_hash(step, backend, settings):
        return False
    home = settings.home_path
    return all(resource_exists(o, backend=backend, home=home) for o in step.outputs)


@contextmanager
def _progress(console: Console | None, enabled: bool) -> Iterator[Progress | None]:
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield progress


def run_pipeline(
    backend: Backend,
    settings: Settings,
    *,
    only: str | None = None,
    start: str | None = None,
    force: bool = False,
    console: Console | None = None,
    show_progress: bool = True,
    steps: list[Step] | None = None,
) -> RunReport:
    """Run the registered steps in order and record each run in ``platform__loads``.

    A step whose inputs did not change since its last successful run is skipped, unless
    ``force``, or it is named by ``only`` or ``start``. A failing step stops the run: its
    error is recorded and raised as :class:`PipelineError`; earlier results stay.
    ``steps`` replaces the registered steps (for embedding and tests).
    """
    create_store(backend)
    steps = select_steps(registered_steps() if steps is None else steps, only=only, start=start)
    forced = {s.name for s in steps} if force else {n for n in (only, start) if n}
    report = RunReport(run_id=new_id())
    with _progress(console, show_progress) as progress:
        overall: TaskID | None = None
        if progress is not None:
            overall = progress.add_task("pipeline", total=len(steps))
        for step in steps:
            result = _run_step(
                step,
                backend=backend,
                settings=settings,
                run_id=report.run_id,
                force=step.name in forced,
                progress=progress,
            )
            report.results.append(result)
            if progress is not None and overall is not None:
                progress.advance(overall)
            if result.status == "failed":
                raise PipelineError(
                    f"Step {step.name!r} failed: {result.summary}. Results of earlier steps are "
                    f"kept; fix the cause and run `oncobase pipeline run --from {step.name}`."
                )
    return report


def _run_step(
    step: Step,
    *,
    backend: Backend,
    settings: Settings,
    run_id: str,
    force: bool,
    progress: Progress | None,
) -> StepResult:
    input_hash = _input_hash(step, backend, settings)
    record = LoadRecord(
        step=step.name, source=PIPELINE_SOURCE, input_hash=input_hash, run_id=run_id
    )
    if not force and step_is_current(step, backend, settings):
        finish_load(backend, record, status="skipped", message="inputs unchanged")
        if progress is not None:
            progress.add_task(f"{step.name} (unchanged, skipped)", total=1, completed=1)
        return StepResult(
            name=step.name, status="skipped", rows=0, seconds=0.0, summary="inputs unchanged"
        )
    record_load(backend, record)
    task: TaskID | None = None
    if progress is not None:
        task = progress.add_task(step.name, total=None)

    def advance(done: float, total: float | None, text: str | None) -> None:
        if progress is not None and task is not None:
            progress.update(task, completed=done, total=total)
            if text:
                progress.update(task, description=f"{step.name}: {text}")

    context = StepContext(
        backend=backend, settings=settings, run_id=run_id, step=step, _advance=advance
    )
    try:
        outcome = step.func(context)
    except OncobaseError as exc:
        return _failed(backend, record, step, str(exc))
    except Exception as exc:
        log.exception("step %s raised", step.name)
        return _failed(backend, record, step, f"{type(exc).__name__}: {str(exc)[:300]}")
    if not isinstance(outcome, StepOutcome):
        outcome = StepOutcome()
    # The step may have changed its own inputs (e.g. tables it reads and writes): record the
    # fingerprint as it stands after the run, so that an unchanged re-run is skipped.
    record.input_hash = _input_hash(step, backend, settings)
    record.rows_accepted = outcome.rows
    finish_load(backend, record, status="success", message=outcome.summary or None)
    if progress is not None and task is not None:
        progress.update(task, total=1, completed=1)
    assert record.ended_at is not None
    return StepResult(
        name=step.name,
        status="success",
        rows=outcome.rows,
        seconds=(record.ended_at - record.started_at).total_seconds(),
        summary=outcome.summary,
    )


def _failed(backend: Backend, record: LoadRecord, step: Step, message: str) -> StepResult:
    finish_load(backend, record, status="failed", message=message)
    assert record.ended_at is not None
    return StepResult(
        name=step.name,
        status="failed",
        rows=0,
        seconds=(record.ended_at - record.started_at).total_seconds(),
        summary=message,
    )


def pipeline_status(
    backend: Backend, settings: Settings, *, steps: list[Step] | None = None
) -> pa.Table:
    """One row per registered step: stage, last run, its status, rows, and whether it is current."""
    create_store(backend)
    rows: dict[str, list[object]] = {
        k: [] for k in ("step", "stage", "last_status", "last_run", "rows", "up_to_date", "message")
    }
    for step in registered_steps() if steps is None else steps:
        last = _last_pipeline_run(backend, step.name)
        rows["step"].append(step.name)
        rows["stage"].append(step.stage)
        rows["last_status"].append(last["status"] if last else "never run")
        rows["last_run"].append(str(last["ended_at"] or last["started_at"]) if last else "")
        rows["rows"].append(int(str(last["rows_accepted"])) if last else 0)
        rows["up_to_date"].append(step_is_current(step, backend, settings))
        rows["message"].append(str(last["message"] or "") if last else "")
    return pa.table(rows)
