"""``oncobase store``: look at the clinical store."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
import typer

from oncobase.cli._output import OutputFormat, console, print_arrow, print_json
from oncobase.store import all_tables, connect, list_loads

app = typer.Typer(help="Look at the clinical store (OMOP CDM v5.4 + platform tables).")

FormatOption = Annotated[
    OutputFormat, typer.Option("--format", "-f", help="table for people, json for programs.")
]


def store_summary() -> tuple[str, str, pa.Table]:
    """Engine, URL and one row per table: group, row count (0 when missing), present."""
    with connect() as backend:
        present = set(backend.list_tables())
        names, groups, counts, exists = [], [], [], []
        for name, spec in all_tables().items():
            names.append(name)
            groups.append(spec.group)
            exists.append(name in present)
            counts.append(backend.count_rows(name) if name in present else 0)
        return (
            backend.engine,
            backend.url,
            pa.table({"table": names, "group": groups, "rows": counts, "present": exists}),
        )


@app.command("info")
def info(fmt: FormatOption = OutputFormat.table) -> None:
    """List the store's tables with their row counts and the engine in use.

    Example: `oncobase store info --format json`
    """
    engine, url, table = store_summary()
    missing = [
        n
        for n, p in zip(table["table"].to_pylist(), table["present"].to_pylist(), strict=True)
        if not p
    ]
    if fmt is OutputFormat.json:
        print_json({"engine": engine, "url": url, "tables": table.to_pylist()})
        return
    console.print(f"engine: [bold]{engine}[/]   store: {url}")
    print_arrow(table, title="Clinical store tables", fmt=fmt)
    if missing:
        console.print(f"[yellow]{len(missing)} table(s) missing: run `oncobase init`.[/]")


@app.command("loads")
def loads(
    step: Annotated[str | None, typer.Option(help="Only loads of this step.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 20,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Show the load metadata: what each load read, accepted and quarantined.

    Example: `oncobase store loads --step vocab --limit 5`
    """
    with connect() as backend:
        table = list_loads(backend, step=step, limit=limit)
    print_arrow(
        table.select(
            [
                "started_at",
                "step",
                "target_table",
                "rows_accepted",
                "rows_quarantined",
                "status",
                "message",
            ]
        ),
        title="Loads",
        fmt=fmt,
    )
