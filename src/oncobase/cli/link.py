"""``oncobase link``: record linkage on any identity file, and clerical review (thin edge over
:mod:`oncobase.linkage`)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from oncobase import linkage
from oncobase.config import get_settings
from oncobase.linkage.files import FileReport, read_identity_csv, read_table_csv, write_clusters

app = typer.Typer(
    name="link",
    help=(
        "Record linkage of French identities: deduplicate any CSV file, evaluate against a "
        "truth file, review uncertain pairs of the national index."
    ),
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
console = Console()
err = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


class Decision(StrEnum):
    match = "match"
    non_match = "non-match"


def _print_report(report: FileReport, problems: dict[str, int]) -> None:
    for reason, n in report.skipped.items():
        err.print(f"[yellow]skipped[/] {n:,} {reason}", highlight=False)
    for reason, n in report.warnings.items():
        err.print(f"[yellow]warning[/] {n:,} {reason}", highlight=False)
    labels = {
        "bad_birth_date": "birth dates unreadable (treated as unknown)",
        "implausible_birth_date": "birth dates in the future or before 1880",
        "nir_bad_key": "NIRs with a wrong key (kept as a weak feature)",
        "nir_malformed": "NIRs too short (ignored)",
        "no_family_name": "records without a family name",
        "no_first_name": "records without a first name",
        "bad_sex": "sex values other than M/F (treated as unknown)",
    }
    for code, n in sorted(problems.items()):
        err.print(f"[yellow]note[/] {n:,} {labels.get(code, code)}", highlight=False)


@app.command("dedupe")
def dedupe_cmd(
    input_file: Annotated[Path, typer.Argument(help="Identity CSV file.", show_default=False)],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write CLUSTERS.csv.")
    ] = Path("clusters.csv"),
    threshold: Annotated[
        float, typer.Option(help="Match probability at or above which two records link.")
    ] = 0.95,
    encoding: Annotated[
        str | None, typer.Option(help="File encoding (default UTF-8, e.g. latin-1).")
    ] = None,
) -> None:
    """Group the records of one person: deterministic NIR pass, then a Fellegi-Sunter model
    trained on the file itself (no labels needed).

    INPUT columns: `record_id, source, nir, last_name, birth_name, first_names, sex,
    birth_date, birth_place_code, postcode` (empty = unknown; birth_date YYYY-MM-DD; sex M/F;
    several first names separated by spaces or commas). Output: `record_id, cluster_id`, one
    row per input record.

    Example: `oncobase link dedupe patients.csv --output clusters.csv`
    """
    if not 0.0 < threshold < 1.0:
        raise linkage.LinkageError("--threshold must be between 0 and 1")
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("reading the input file")
        records, report = read_identity_csv(input_file, encoding=encoding)

        def say(text: str) -> None:
            progress.update(task, description=text)

        result = linkage.link_identities(
            records,
            thresholds=linkage.Thresholds(match=threshold, review=min(0.5, threshold / 2)),
            progress=say,
        )
        say("writing clusters")
        write_clusters(output, records["record_id"], result.clusters["cluster"])
    _print_report(report, result.problems)
    c = result.counts
    console.print(
        f"{c['records']:,} records → {c['clusters']:,} clusters "
        f"({c.get('deterministic_links', 0):,} NIR links, {c.get('scored_pairs', 0):,} scored "
        f"pairs); written to {output}",
        highlight=False,
    )


@app.command("evaluate")
def evaluate_cmd(
    clusters: Annotated[Path, typer.Argument(help="CLUSTERS.csv (record_id, cluster_id).")],
    truth: Annotated[Path, typer.Option("--truth", help="TRUTH.csv (record_id, person).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.table
    ),
) -> None:
    """Pairwise precision, recall and F1 of a clustering against the truth.

    Example: `oncobase link evaluate --truth truth.csv clusters.csv`
    """
    scores = linkage.pairwise_scores(
        read_table_csv(clusters, ("record_id", "cluster_id")),
        read_table_csv(truth, ("record_id", "person")),
    )
    if fmt is OutputFormat.json:
        console.print_json(json.dumps(scores.to_dict()))
        return
    view = Table(title="Pairwise linkage quality")
    view.add_column("measure")
    view.add_column("value", justify="right")
    for key, value in scores.to_dict().items():
        view.add_row(key, f"{value:.4f}" if isinstance(value, float) else f"{value:,}")
    console.print(view)


@app.command("review")
def review_cmd(
    limit: Annotated[int, typer.Option(help="How many pairs to show.")] = 50,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json.")] = (
        OutputFormat.table
    ),
) -> None:
    """List the pairs of the national index in the uncertain band, for clerical review.

    Only ids are shown (source and local record ids); look the records up in the source
    systems. Decide with `oncobase link decide PAIR_ID match|non-match`.

    Example: `oncobase link review --limit 20`
    """
    pairs = linkage.review_pairs(get_settings())
    rows = pairs.slice(0, limit).to_pylist()
    if fmt is OutputFormat.json:
        console.print_json(json.dumps(rows))
        return
    view = Table(title=f"{pairs.num_rows:,} pair(s) to review")
    for name in ("pair_id", "source_l", "record_id_l", "source_r", "record_id_r", "probability"):
        view.add_column(name)
    for r in rows:
        view.add_row(
            r["pair_id"],
            r["source_l"],
            r["record_id_l"],
            r["source_r"],
            r["record_id_r"],
            f"{r['match_probability']:.3f}",
        )
    console.print(view)


@app.command("decide")
def decide_cmd(
    pair_id: Annotated[str, typer.Argument(help="A pair id from `oncobase link review`.")],
    decision: Annotated[Decision, typer.Argument(help="match or non-match.")],
) -> None:
    """Store a clerical decision; every later linkage run respects it.

    Example: `oncobase link decide 3f9a0c12d4e5b6a7 non-match`
    """
    linkage.decide(get_settings(), pair_id, decision.value)
    console.print(f"pair {pair_id}: {decision.value} (stored in the vault)", highlight=False)


@app.command("index")
def index_cmd(
    input_file: Annotated[Path, typer.Argument(help="Identity CSV file (record_id = local id).")],
    encoding: Annotated[str | None, typer.Option(help="File encoding.")] = None,
    full: Annotated[bool, typer.Option(help="Relink everything (retrain the model).")] = False,
) -> None:
    """Add an identity file to the vault and the national person index (incremental unless
    `--full`).

    Example: `oncobase link index hospital_2026_05.csv`
    """
    records, report = read_identity_csv(input_file, encoding=encoding)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as progress:
        task = progress.add_task("linking")
        summary = linkage.link_into_vault(
            records,
            settings=get_settings(),
            incremental=False if full else None,
            progress=lambda text: progress.update(task, description=text),
        )
    _print_report(report, summary.problems)
    c = summary.counts
    console.print(
        f"{summary.kind} run {summary.run_id}: {c.get('new_records', 0):,} new records "
        f"({c.get('linked_records', 0):,} linked); the index holds {c.get('records', 0):,} "
        f"records of {c.get('persons', 0):,} persons; {c.get('review_pairs', 0):,} pairs "
        "for review",
        highlight=False,
    )
