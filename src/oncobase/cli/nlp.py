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
    "biomarkers, with the evidence span of each value.\n\nExamples:\n\n"
    "  oncobase nlp pathology reports.jsonl --output out.jsonl\n\n"
    "  oncobase nlp evaluate gold.jsonl out.jsonl --format json",
    no_args_is_help=True,
)


def _run(input_path: Path, output: Path, processes: int, id_key: str) -> None:
    try:
        inputs = read_inputs(input_path)
    except (NlpError, OSError) as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    with console.status(f"Extracting {len(inputs):,} reports …"):
        results = extract_reports([text for _, text in inputs], processes=processes)
    output.parent.mkdir(parents=True, exist_ok=True)
    with output.open("wb") as handle:
        for (rid, _), result in zip(inputs, results, strict=True):
            handle.write(orjson.dumps({id_key: rid, **result}) + b"\n")
    cancers = sum(1 for r in results if r["cancer"])
    console.print(f"{len(results):,} reports ({cancers:,} cancers) → {output}")


_INPUT_HELP = (
    "JSON Lines, one object a line with 'id' (or 'report_id') and 'text'; also a .txt "
    "report or a folder of .txt reports."
)
_OUTPUT = typer.Option("--output", "-o", help="JSON Lines to write.")
_PROCESSES = typer.Option(help="Worker processes.", min=1)


@app.command("pathology")
def pathology_cmd(
    input_path: Annotated[Path, typer.Argument(help=_INPUT_HELP)],
    output: Annotated[Path, _OUTPUT],
    processes: Annotated[int, _PROCESSES] = 1,
) -> None:
    """Extract every report: one JSON object a line, `id` + the schema keys + `evidence`.

    Example: `oncobase nlp pathology reports.jsonl --output extractions.jsonl`
    """
    _run(input_path, output, processes, "id")


@app.command("extract")
def extract_cmd(
    input_path: Annotated[Path, typer.Argument(help=_INPUT_HELP)],
    output: Annotated[Path, _OUTPUT],
    processes: Annotated[int, _PROCESSES] = 1,
) -> None:
    """Like `pathology`, keyed by `report_id` (e.g. a lab's reports.ndjson).

    Example: `oncobase nlp extract feeds/pathology/LAB01/reports.ndjson -o out.jsonl`
    """
    _run(input_path, output, processes, "report_id")


@app.command("evaluate")
def evaluate_cmd(
    first: Annotated[Path, typer.Argument(help="GOLD.jsonl ('id', 'text', 'gold' with the keys).")],
    second: Annotated[
        Path | None, typer.Argument(help="PRED.jsonl ('id' + the keys).", show_default=False)
    ] = None,
    gold_option: Annotated[
        Path | None,
        typer.Option("--gold", help="Gold file (older form: `evaluate --gold GOLD PRED`)."),
    ] = None,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.table
    ),
) -> None:
    """Score predictions against gold: per-field precision, recall, F1 and the micro-average.

    Example: `oncobase nlp evaluate gold.jsonl extractions.jsonl --format json`
    """
    if gold_option is not None:
        if second is not None:
            err_console.print("[red]Give GOLD PRED, or --gold GOLD PRED, not both.[/]")
            raise typer.Exit(2)
        gold, predictions = gold_option, first
    elif second is None:
        err_console.print("[red]Usage: oncobase nlp evaluate GOLD.jsonl PRED.jsonl[/]")
        raise typer.Exit(2)
    else:
        gold, predictions = first, second
    try:
        gold_rows = read_gold(gold)
        pred_rows = read_gold(predictions)
    except (NlpError, OSError) as exc:
        err_console.print(f"[red]{exc}[/]")
        raise typer.Exit(2) from None
    ids = [i for i in gold_rows if i in pred_rows]
    if not ids:
        err_console.print("[red]No id in common between gold and predictions.[/]")
        raise typer.Exit(2)
    missing = len(gold_rows) - len(ids)
    if missing:
        err_console.print(f"[yellow]{missing:,} gold reports have no prediction (skipped).[/]")
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
