"""``oncobase nlp``: French pathology reports → structured tumour data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.table import Table

from oncobase.cli._output import OutputFormat, console, err_console, print_json
from oncobase.nlp import SCHEMA_KEYS, extract_reports, score
from oncobase.nlp.io import NlpError, read_gold, read_inputs

app = typer.Typer(
    help="Pathology report extraction (EDS-NLP): ICD-O-3, grade, pTNM, size, nodes, margins, "
    "biomarkers.\n\nExamples:\n\n"
    "  oncobase nlp extract report.txt --output out.jsonl\n\n"
    "  oncobase nlp extract feeds/pathology/LAB01/reports.ndjson -o out.jsonl --processes 2\n\n"
    "  oncobase nlp evaluate --gold truth/pathology_gold.ndjson out.jsonl --format json",
    no_args_is_help=True,
)


@app.command("extract")
def extract_cmd(
    input_path: Annotated[
        Path,
        typer.Argument(
            help="A .txt report, a folder of .txt reports, or JSON Lines with 'text' and "
            "'report_id' (or 'id'), e.g. a lab's reports.ndjson."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON Lines to write.")],
    processes: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Extract every report into one JSON object a line (`report_id` + the schema keys).

    Example: `oncobase nlp extract reports.ndjson --output extractions.jsonl --processes 2`
    """
    try:
        inputs = read_inputs(input_path)
    except NlpError as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    with console.status(f"Extracting {len(inputs):,} reports …"):
        results = extract_reports([text for _, text in inputs], processes=processes)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as handle:
        for (rid, _), result in zip(inputs, results, strict=True):
            handle.write(orjson.dumps({"report_id": rid, **result}) + b"\n")
    cancers = sum(1 for r in results if r["cancer"])
    console.print(f"{len(results):,} reports ({cancers:,} cancers) → {output}")


@app.command("evaluate")
def evaluate_cmd(
    predictions: Annotated[Path, typer.Argument(help="Extractions (JSON Lines, report_id).")],
    gold: Annotated[Path, typer.Option("--gold", help="Gold JSON Lines (report_id + keys).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.table
    ),
) -> None:
    """Score extractions against gold: per-field accuracy, precision, recall, F1.

    Example: `oncobase nlp evaluate --gold truth/pathology_gold.ndjson extractions.jsonl`
    """
    try:
        gold_rows = read_gold(gold)
        pred_rows = read_gold(predictions)
    except (NlpError, OSError) as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    ids = [i for i in gold_rows if i in pred_rows]
    if not ids:
        err_console.print("[red]No report_id in common between gold and predictions.[/]")
        raise typer.Exit(2)
    report = score([pred_rows[i] for i in ids], [gold_rows[i] for i in ids])
    if fmt is OutputFormat.json:
        print_json(report.to_dict())
        return
    view = Table(title=f"{report.documents:,} reports, {report.fully_correct:,} fully correct")
    for column in ("field", "gold", "predicted", "accuracy", "precision", "recall", "F1"):
        view.add_column(column, justify="left" if column == "field" else "right")
    for key in SCHEMA_KEYS:
        f = report.fields[key]
        view.add_row(key, str(f.gold), str(f.predicted), f"{f.accuracy:.3f}",
                     f"{f.precision:.3f}", f"{f.recall:.3f}", f"{f.f1:.3f}")  # fmt: skip
    view.add_row("micro", "", "", "", f"{report.micro_precision:.3f}",
                 f"{report.micro_recall:.3f}", f"{report.micro_f1:.3f}")  # fmt: skip
    console.print(view)
