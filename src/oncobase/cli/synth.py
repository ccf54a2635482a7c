"""``oncobase synth``: generate the synthetic French cancer population and its raw feeds."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from oncobase.cli._output import console


def synth_command(
    *,
    patients: Annotated[
        int, typer.Option("--patients", min=1, help="Cancer patients to generate.")
    ] = 20_000,
    seed: Annotated[int, typer.Option("--seed", help="Seed: same seed, same bytes.")] = 2026,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default: <ONCOBASE_HOME>/synth)."),
    ] = None,
    chunk_size: Annotated[
        int,
        typer.Option("--chunk-size", min=1, max=1_000_000, help="Patients per chunk (memory)."),
    ] = 20_000,
    first_year: Annotated[int, typer.Option("--first-year", help="First diagnosis year.")] = 2015,
    last_year: Annotated[int, typer.Option("--last-year", help="Last diagnosis year.")] = 2024,
) -> None:
    """Generate a synthetic French cancer population and the feeds a national platform receives.

    Writes, under OUT:

    * `feeds/hospitals/<HOSPxx>/<Resource>.ndjson`: FHIR R4 Bulk Data (mCODE profiles) of 16
      hospitals, each with its own patient ids and identity errors;
    * `feeds/pathology/<LABxx>/reports.ndjson`: French pathology reports in free text;
    * `feeds/registries/<REG_xx>/tumours.csv`: registry extracts (one row per tumour;
      REG_14 is `;`-separated Latin-1, the others `,`-separated UTF-8);
    * `feeds/deaths/deces-<year>.txt`: the INSEE death file (fixed width, all deaths);
    * `truth/*.parquet`, `truth/pathology_gold.ndjson`: the ground truth, kept apart;
    * `manifest.json`: seed, sizes, noise rates, counts per feed.

    Besides the cancer patients, about 1.2 non-cancer persons per patient who die over the
    span are generated for the death file. Same seed, same size, same chunk size: same bytes.

    Example: `oncobase synth --patients 20000 --seed 2026 --out ./synth`
    """
    from oncobase.synth import generate_nation

    if out is None:
        from oncobase.config import get_settings

        out = get_settings().synth_path
    with Progress(
        TextColumn("[bold]synth[/]"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("patients"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("synth", total=patients)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = generate_nation(
            out,
            patients=patients,
            seed=seed,
            chunk_size=chunk_size,
            years=(first_year, last_year),
            progress=advance,
        )
    view = Table(title=f"Synthetic nation in {out}")
    view.add_column("output")
    view.add_column("rows", justify="right")
    for name, rows in report.counts.items():
        view.add_row(name, f"{rows:,}")
    console.print(view)
    for feed in report.skipped:
        console.print(f"[yellow]feed {feed} skipped: its writer is not installed[/]")
    rate = report.patients / report.seconds if report.seconds else 0.0
    console.print(
        f"{report.patients:,} cancer patients, {report.persons:,} persons in "
        f"{report.seconds:.1f} s ({rate:,.0f} patients/s)"
    )
