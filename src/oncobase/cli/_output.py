"""Shared output helpers of the CLI: rich tables or JSON for data results."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table

console = Console()
err_console = Console(stderr=True)


class OutputFormat(StrEnum):
    table = "table"
    json = "json"


def print_arrow(table: pa.Table, *, title: str | None = None, fmt: OutputFormat) -> None:
    """Print an Arrow table as a rich table or as a JSON list of objects."""
    if fmt is OutputFormat.json:
        print_json(table.to_pylist())
        return
    view = Table(title=title, show_lines=False)
    for name in table.column_names:
        numeric = pa.types.is_integer(table.schema.field(name).type)
        view.add_column(name, justify="right" if numeric else "left")
    for row in table.to_pylist():
        view.add_row(*[_cell(v) for v in row.values()])
    console.print(view)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
