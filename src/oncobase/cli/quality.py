"""``oncobase quality``: registry and store data-quality checks (thin edge over
:mod:`oncobase.quality`)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from oncobase import quality
from oncobase.config import get_settings
from oncobase.errors import OncobaseError
from oncobase.quality import QualityError
from oncobase.store import connect

app = typer.Typer(
    name="quality",
    help="Data-quality checks as cancer registries (IARC/ENCR) and OHDSI (DQD) practise them.",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
console = Console()
err_console = Console(stderr=True)


class CheckFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class DataFormat(StrEnum):
    table = "table"
    json = "json"


def _fail(exc: OncobaseError) -> typer.Exit:
    err_console.print(f"[red]error:[/] {exc}")
    return typer.Exit(exc.exit_code)


def _parse_date(text: str | None) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise QualityError(f"--as-of {text!r} is not a date (YYYY-MM-DD)") from None


def _print_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


@app.command("check-registry")
def check_registry(
    input_file: Annotated[Path, typer.Argument(help="Registry CSV file.", show_default=False)],
    fmt: Annotated[CheckFormat, typer.Option("--format", help="table, json or csv.")] = (
        CheckFormat.table
    ),
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="Registry mapping file (TOML).")
    ] = None,
    report: Annotated[
        Path | None, typer.Option("--report", help="Also write a report (.html or .json).")
    ] = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Check date YYYY-MM-DD (default: today).")
    ] = None,
) -> None:
    """Check every tumour of a registry CSV file.

    Columns: `patient_id, tumour_id, sex, birth_date, incidence_date, topography, morphology,
    behaviour, grade, basis_of_diagnosis, vital_status, last_contact_or_death_date` (or the
    French layout, or any layout with `--mapping`). JSON: one object per tumour with
    `tumour_id`, `flag` (ok, warning, error) and `findings`.

    Example: `oncobase quality check-registry tumours.csv --format json`
    """
    try:
        check_date = _parse_date(as_of)
        run = quality.check_registry_file(input_file, mapping_path=mapping, as_of=check_date)
    except OncobaseError as exc:
        raise _fail(exc) from None
    records = run.tumours.to_records()
    if report is not None:
        quality.write_report(quality.build_run_report(run), report)
    if fmt is CheckFormat.json:
        _print_json(records)
        return
    if fmt is CheckFormat.csv:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["tumour_id", "flag", "check", "level", "message"])
        for r in records:
            if not r["findings"]:
                writer.writerow([r["tumour_id"], r["flag"], "", "", ""])
            for f in r["findings"]:
                writer.writerow([r["tumour_id"], r["flag"], f["check"], f["level"], f["message"]])
        typer.echo(out.getvalue(), nl=False)
        return
    summary = run.tumours.summary()
    view = Table(title=f"{input_file.name}: {summary['records']:,} tumours")
    for name in ("check", "level", "records", "message"):
        view.add_column(name, justify="right" if name == "records" else "left")
    rules = {r.id: r for r in quality.load_rules().rules}
    for check, count in sorted(summary["by_rule"].items()):
        view.add_row(check, rules[check].level, f"{count:,}", rules[check].message)
    console.print(view)
    console.print(
        f"ok {summary['ok']:,} · warning {summary['warning']:,} · error {summary['error']:,}; "
        + ", ".join(f"label {x.source}: {x.label}" for x in run.labels)
    )


@app.command("run")
def run_checks(
    fmt: Annotated[DataFormat, typer.Option("--format", help="table or json.")] = DataFormat.table,
) -> None:
    """Check the clinical store (tumour rules, multiple primaries, DQD-style checks) and save
    the results in the `quality__*` tables.

    Example: `oncobase quality run --format json`
    """
    try:
        with connect(settings=get_settings()) as backend:
            run = quality.run_quality(backend)
    except OncobaseError as exc:
        raise _fail(exc) from None
    summary = quality.describe_run(run)
    if fmt is DataFormat.json:
        _print_json(summary)
        return
    console.print(
        f"run {run.run_id}: {summary['records']:,} tumours, {summary['error']:,} with errors, "
        f"{summary['warning']:,} with warnings, {summary['store_checks_failed']} store check(s) "
        "failed"
    )
    for x in run.labels:
        console.print(f"  {x.source}: label [bold]{x.label}[/] ({x.reason})")


@app.command("report")
def report_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file (.html or .json).")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run", help="A run id (default: the last).")
    ] = None,
    fmt: Annotated[DataFormat, typer.Option("--format", help="table or json.")] = DataFormat.table,
) -> None:
    """The report of the last quality run of the store (by source, site and year).

    Example: `oncobase quality report --output report.html`
    """
    try:
        with connect(settings=get_settings()) as backend:
            report = quality.build_store_report(backend, run_id)
    except OncobaseError as exc:
        raise _fail(exc) from None
    if report is None:
        err_console.print("No quality run yet: run `oncobase quality run` first.")
        raise typer.Exit(1)
    if output is not None:
        quality.write_report(report, output)
        console.print(f"report written to {output}")
        return
    if fmt is DataFormat.json:
        _print_json(report)
        return
    for x in report["labels"]:
        console.print(f"{x['source']}: label [bold]{x['label']}[/] ({x['reason']})")


@app.command("rules")
def rules_command(
    fmt: Annotated[DataFormat, typer.Option("--format", help="table or json.")] = DataFormat.table,
) -> None:
    """List the tumour-record rules: id, family, level, message and source.

    Example: `oncobase quality rules --format json`
    """
    rules = quality.load_rules().rules
    if fmt is DataFormat.json:
        _print_json([r.to_dict() for r in rules])
        return
    view = Table(title="Tumour-record rules")
    for name in ("id", "family", "level", "message", "source"):
        view.add_column(name)
    for r in rules:
        view.add_row(r.id, r.family, r.level, r.message, r.source)
    console.print(view)
