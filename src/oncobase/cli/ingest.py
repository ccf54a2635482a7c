"""``oncobase ingest``: read feeds into staging, load staging into OMOP, browse the quarantine."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from oncobase.cli._output import OutputFormat, console, print_arrow, print_json
from oncobase.config import get_settings
from oncobase.ingest.report import summarise_stage
from oncobase.store import connect, create_store

app = typer.Typer(
    help="Ingest hospital FHIR exports, registry CSV extracts and INSEE death files.\n\n"
    "Each verb reads its files, validates every record, quarantines what is malformed (with "
    "the reason and the line), splits identity from clinical data into the staging area, and "
    "prints read / accepted / quarantined counts. `oncobase ingest load` then writes staging "
    "into the OMOP store.",
    no_args_is_help=True,
)
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="table or json.")]


def _report(results: list[Any], fmt: OutputFormat) -> None:
    rows = [summarise_stage(r) for r in results]
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    import pyarrow as pa

    table = pa.Table.from_pylist(
        [
            {
                "source": r["source"],
                "read": r["read"],
                "accepted": r["accepted"],
                "ignored": r["ignored"],
                "quarantined": r["quarantined"],
                "reasons": ", ".join(f"{k} {v}" for k, v in sorted(r["by_reason"].items())),
            }
            for r in rows
        ]
    )
    print_arrow(table, title="Ingested into staging", fmt=fmt)


def _store_rejects(results: list[Any]) -> None:
    from oncobase.ingest.quarantine import store_quarantine
    from oncobase.store.metadata import new_id

    settings = get_settings()
    with connect(settings=settings) as backend:
        create_store(backend)
        for result in results:
            quarantine = getattr(result, "quarantine", None)
            if quarantine is not None and len(quarantine):
                store_quarantine(backend, settings, quarantine, load_id=new_id())


@app.command("fhir")
def fhir_cmd(
    paths: Annotated[list[Path], typer.Argument(help="Bulk export folders or Bundle files.")],
    source: Annotated[str | None, typer.Option(help="Source name (default: folder name).")] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Stage FHIR R4 Bulk Data exports (NDJSON folders) or Bundles (.json/.ndjson, gzip).

    Example: `oncobase ingest fhir .oncobase/synth/feeds/hospitals/HOSP01`
    """
    from oncobase.ingest.fhir import stage_fhir

    settings = get_settings()
    results: list[Any] = []
    with connect(settings=settings) as backend:
        create_store(backend)
        for path in paths:
            results.append(stage_fhir(path, settings=settings, source=source, backend=backend))
    _store_rejects(results)
    _report(results, fmt)


@app.command("registry")
def registry_cmd(
    paths: Annotated[list[Path], typer.Argument(help="CSV extract(s) of one registry.")],
    source: Annotated[str | None, typer.Option(help="Source name (default: folder name).")] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="Column mapping (TOML) for another layout.")
    ] = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Stage a cancer registry's CSV extract (delimiter and encoding are sniffed).

    Example: `oncobase ingest registry extract.csv --source REG_38 --mapping layout.toml`
    """
    from oncobase.ingest import stage_registry_csv

    result = stage_registry_csv(
        list(paths), settings=get_settings(), source=source, mapping_path=mapping
    )
    _store_rejects([result])
    _report([result], fmt)


@app.command("deaths")
def deaths_cmd(
    paths: Annotated[list[Path], typer.Argument(help="deces-YYYY.txt files or their folder.")],
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Stage INSEE death files (fixed width, the public "fichier des personnes décédées").

    Example: `oncobase ingest deaths .oncobase/synth/feeds/deaths/`
    """
    from oncobase.ingest import stage_death_files

    files = [f for p in paths for f in (sorted(p.glob("*.txt")) if p.is_dir() else [p])]
    result = stage_death_files(files, settings=get_settings())
    _store_rejects([result])
    _report([result], fmt)


@app.command("load")
def load_cmd(fmt: FormatOption = OutputFormat.table) -> None:
    """Load the staging area into the OMOP store (unchanged sources are skipped).

    Persons come from the linkage's person index when `oncobase pipeline run` has built one;
    otherwise each source patient is a provisional person. Example: `oncobase ingest load`
    """
    from oncobase.ingest.load import load_staging

    settings = get_settings()
    with connect(settings=settings) as backend:
        create_store(backend)
        report = load_staging(backend, settings)
    if fmt is OutputFormat.json:
        print_json({"loaded": report.loaded, "skipped": report.skipped})
        return
    for source, tables in report.loaded.items():
        console.print(f"{source:<12} " + ", ".join(f"{t} {n:,}" for t, n in tables.items()))
    if report.skipped:
        console.print(f"unchanged: {', '.join(report.skipped)}")


@app.command("quarantine")
def quarantine_cmd(
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    limit: Annotated[int, typer.Option(help="How many, newest first.")] = 50,
    export: Annotated[
        Path | None, typer.Option(help="Write the rejects to this CSV file instead.")
    ] = None,
    with_raw: Annotated[
        bool,
        typer.Option(help="Include the decrypted raw records in the export (data stewards)."),
    ] = False,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """List or export the quarantined records: reason, file and line.

    Example: `oncobase ingest quarantine --source HOSP03 --export rejects.csv`
    """
    from oncobase.ingest.quarantine import decrypt_raw, list_quarantine

    settings = get_settings()
    with connect(settings=settings) as backend:
        create_store(backend)
        table = list_quarantine(backend, source=source, limit=limit if export is None else 10**9)
        raws = {}
        if export is not None and with_raw:
            encrypted = backend.query_arrow(
                "SELECT quarantine_id, source, raw_encrypted FROM ingest__quarantine"
            ).to_pylist()
            raws = {
                r["quarantine_id"]: decrypt_raw(
                    settings, source=r["source"], raw_encrypted=r["raw_encrypted"]
                ).decode("utf-8", "replace")
                for r in encrypted
            }
    if export is None:
        print_arrow(table, title="Quarantine", fmt=fmt)
        return
    with export.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        header = [*table.column_names, *(["raw"] if with_raw else [])]
        writer.writerow(header)
        for row in table.to_pylist():
            extra = [raws.get(row["quarantine_id"], "")] if with_raw else []
            writer.writerow([*row.values(), *extra])
    print(f"{table.num_rows} rejected record(s) written to {export}", file=sys.stderr)
