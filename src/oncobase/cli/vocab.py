"""``oncobase vocab``: vocabularies of the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from oncobase.cli._output import console
from oncobase.store import connect, create_store
from oncobase.vocab import load_athena, load_builtin, map_to_standard

app = typer.Typer(help="Vocabularies: the built-in subset and OHDSI Athena exports.")


@app.command("load-athena")
def load_athena_cmd(
    path: Annotated[
        Path, typer.Argument(help="Unzipped Athena download folder (CONCEPT.csv …).", exists=True)
    ],
) -> None:
    """Load an OHDSI Athena vocabulary export; it takes precedence over the built-in subset.

    Download the vocabularies you need from athena.ohdsi.org and unzip them.

    Example: `oncobase vocab load-athena ~/Downloads/vocabulary_download_v5`
    """
    with connect() as backend:
        create_store(backend)
        report = load_athena(backend, path)
    for table, rows in report.rows.items():
        console.print(f"{table:<22} {rows:>12,} rows")
    for name, lines in report.rejected.items():
        console.print(f"[yellow]{name}: {len(lines)} line(s) rejected[/]")
        for line in lines[:10]:
            console.print(f"  {line}")


@app.command("load-builtin")
def load_builtin_cmd() -> None:
    """(Re)load the built-in vocabulary subset (done by `oncobase pipeline run` too).

    Example: `oncobase vocab load-builtin`
    """
    with connect() as backend:
        create_store(backend)
        report = load_builtin(backend)
    for table, rows in report.rows.items():
        console.print(f"{table:<22} {rows:>12,} rows")


@app.command("map")
def map_cmd(
    vocabulary: Annotated[str, typer.Argument(help="Vocabulary id, e.g. ICD10, ICDO3, ATC.")],
    codes: Annotated[list[str], typer.Argument(help="Source codes.")],
) -> None:
    """Map source codes to standard concept ids (0 when unknown).

    Example: `oncobase vocab map ICD10 C50.9 C509 C34.1`
    """
    with connect() as backend:
        result = map_to_standard(backend, codes, vocabulary)
    for row in result.to_pylist():
        console.print(f"{row['source_value']:<12} → {row['concept_id']}")
