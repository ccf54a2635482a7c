"""``oncobase pipeline``: run the platform's steps and see where they stand."""

from __future__ import annotations

from typing import Annotated

import typer

from oncobase.cli._output import OutputFormat, console, print_arrow, print_json
from oncobase.config import get_settings
from oncobase.pipeline import RunReport, pipeline_status, registered_steps, run_pipeline
from oncobase.store import connect

app = typer.Typer(help="Run the pipeline: synthetic feeds → ingest → link → … → statistics.")


def print_report(report: RunReport) -> None:
    for result in report.results:
        colour = {"success": "green", "skipped": "dim", "failed": "red"}[result.status]
        console.print(
            f"[{colour}]{result.status:<8}[/] {result.name:<18} {result.rows:>12,} rows "
            f"{result.seconds:>7.1f}s  {result.summary}"
        )


@app.command("run")
def run(
    only: Annotated[str | None, typer.Option("--only", help="Run just this step.")] = None,
    start: Annotated[
        str | None, typer.Option("--from", help="Run this step and every later one.")
    ] = None,
    force: Annotated[bool, typer.Option(help="Re-run steps even if inputs are unchanged.")] = False,
) -> None:
    """Run the registered steps in order; a step whose inputs did not change is skipped.

    Examples: `oncobase pipeline run`, `oncobase pipeline run --from vocab`,
    `oncobase pipeline run --only vocab --force`
    """
    settings = get_settings()
    with connect(settings=settings) as backend:
        report = run_pipeline(
            backend, settings, only=only, start=start, force=force, console=console
        )
    print_report(report)


@app.command("status")
def status(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """Show each step's last run and whether its inputs changed since.

    Example: `oncobase pipeline status --format json`
    """
    settings = get_settings()
    with connect(settings=settings) as backend:
        table = pipeline_status(backend, settings)
    print_arrow(table, title="Pipeline", fmt=fmt)


@app.command("steps")
def steps(
    fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
) -> None:
    """List the registered steps with their inputs and outputs.

    Example: `oncobase pipeline steps`
    """
    rows = [
        {
            "step": s.name,
            "stage": s.stage,
            "inputs": ", ".join(s.inputs),
            "outputs": ", ".join(s.outputs),
            "description": s.description,
        }
        for s in registered_steps()
    ]
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    import pyarrow as pa

    print_arrow(pa.Table.from_pylist(rows), title="Pipeline steps", fmt=fmt)
