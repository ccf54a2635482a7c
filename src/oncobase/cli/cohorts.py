"""``oncobase cohorts``: list, build, show, compare and export cohorts (thin edge over
:mod:`oncobase.cohorts`). A user's YAML file is accepted wherever a built-in name is."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from oncobase import cohorts
from oncobase.cohorts.characterise import build_table1, member_features_expr
from oncobase.cohorts.summary import find_closing_date
from oncobase.config import get_settings
from oncobase.errors import OncobaseError
from oncobase.store import connect

app = typer.Typer(
    name="cohorts",
    help="Exhaustive national cohorts of poor-prognosis cancers: list, build, show, compare, "
    "export. NAME is a built-in cohort or a path to your own YAML definition.",
    no_args_is_help=True,
)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


FormatOpt = Annotated[OutputFormat, typer.Option("--format", help="table or json.")]
NameArg = Annotated[str, typer.Argument(help="Built-in cohort name or YAML file path.")]


def _fail(exc: OncobaseError) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(code=exc.exit_code)


def _print(data: Any, fmt: OutputFormat, *, title: str = "") -> None:
    if fmt is OutputFormat.json:
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return
    rows = data if isinstance(data, list) else [data]
    console = Console()
    if not rows:
        console.print(f"{title}: nothing")
        return
    table = Table(title=title)
    columns = list(dict.fromkeys(k for r in rows for k in r))
    for c in columns:
        table.add_column(c)
    for r in rows:
        table.add_row(*[str(r.get(c, "")) for c in columns])
    console.print(table)


@app.command("list")
def list_command(fmt: FormatOpt = OutputFormat.table) -> None:
    """The built-in cohorts."""
    rows = [
        {
            "name": c.name,
            "title": c.title,
            "version": c.version,
            "reference_sites": ",".join(c.reference_sites),
        }
        for c in cohorts.list_cohorts()
    ]
    _print(rows, fmt, title="Built-in cohorts")


@app.command("build")
def build_command(name: NameArg, fmt: FormatOpt = OutputFormat.table) -> None:
    """Build a cohort on the store (written to OMOP cohort and cohort_definition).

    Patients who objected to research reuse (oncobase share optout) are left out.
    """
    try:
        from oncobase.share import research_exclusions

        definition = cohorts.load_cohort(name)
        excluded = research_exclusions(get_settings(), applied_by="cli:cohorts build")
        with connect() as backend:
            build = cohorts.build_cohort(backend, definition, excluded_person_ids=excluded)
    except OncobaseError as exc:
        _fail(exc)
        return
    record = build.record()
    if fmt is OutputFormat.json:
        _print(record, fmt)
    else:
        typer.echo(f"{build.name}: {build.members} members in {build.seconds:.2f} s "
                   f"(definition {build.definition_hash[:12]})")  # fmt: skip
        _print(record["attrition"], fmt, title="Attrition")


@app.command("show")
def show_command(name: NameArg, fmt: FormatOpt = OutputFormat.table) -> None:
    """The definition, attrition, Table 1, survival and completeness of a cohort."""
    try:
        with connect() as backend:
            summary = cohorts.cohort_summary(backend, name)
    except OncobaseError as exc:
        _fail(exc)
        return
    if fmt is OutputFormat.json:
        _print(summary, fmt)
        return
    typer.echo(f"{summary['definition']['title']}: {summary['members']} members")
    for key in ("attrition", "table1", "survival_by_stage", "completeness_estimates"):
        _print(summary[key], fmt, title=key)


@app.command("compare")
def compare_command(a: NameArg, b: NameArg, fmt: FormatOpt = OutputFormat.table) -> None:
    """Table 1 of two cohorts side by side, with standardised mean differences."""
    try:
        first, second = cohorts.load_cohort(a), cohorts.load_cohort(b)
        with connect() as backend:
            tables = cohorts.read_store_tables(backend)
            closing = find_closing_date(backend)
            feats = [
                member_features_expr(
                    tables, cohorts.compile_cohort(tables, d).members, closing_date=closing
                ).to_pyarrow()
                for d in (first, second)
            ]
    except OncobaseError as exc:
        _fail(exc)
        return
    rows = build_table1(feats[0], feats[1], labels=(first.name, second.name))
    _print(rows, fmt, title=f"{first.name} vs {second.name}")


@app.command("export")
def export_command(name: NameArg, fmt: FormatOpt = OutputFormat.json) -> None:
    """The definition of a cohort (YAML as JSON), with its hash, for sharing or editing."""
    try:
        definition = cohorts.load_cohort(name)
    except OncobaseError as exc:
        _fail(exc)
        return
    _print(
        {"definition": definition.model_dump(mode="json"), "hash": definition.content_hash()},
        OutputFormat.json if fmt is OutputFormat.json else fmt,
    )
