"""The one table specification of the clinical store, read from the data files in ``spec/``.

Every DDL statement, every bulk-load cast and every conformance check is derived from it.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

import pyarrow as pa

CDM_VERSION = "5.4"

_VARCHAR = re.compile(r"varchar\((\d+|max)\)")


@dataclass(frozen=True, kw_only=True)
class ColumnSpec:
    """One column: its OMOP datatype (``integer``, ``varchar(50)``, ``date`` …) and constraints."""

    name: str
    datatype: str
    required: bool
    primary_key: bool
    fk_table: str | None = None
    fk_column: str | None = None

    @property
    def type_class(self) -> str:
        """The engine-independent class: integer, float, text, date or datetime."""
        if self.datatype in ("integer", "bigint"):
            return "integer"
        if self.datatype == "float":
            return "float"
        if self.datatype in ("date", "datetime"):
            return self.datatype
        if _VARCHAR.fullmatch(self.datatype):
            return "text"
        raise ValueError(f"unknown datatype {self.datatype!r} for column {self.name}")

    @property
    def max_length(self) -> int | None:
        """The declared varchar length, or None for other types and varchar(max)."""
        match = _VARCHAR.fullmatch(self.datatype)
        if match is None or match.group(1) == "max":
            return None
        return int(match.group(1))

    @property
    def arrow_type(self) -> pa.DataType:
        """The Arrow type a bulk load casts this column to."""
        return {
            "integer": pa.int64(),
            "float": pa.float64(),
            "text": pa.string(),
            "date": pa.date32(),
            "datetime": pa.timestamp("us"),
        }[self.type_class]


@dataclass(frozen=True, kw_only=True)
class TableSpec:
    """One table of the store: its name, group (CDM, VOCAB, RESULTS, PLATFORM) and columns."""

    name: str
    group: str
    columns: tuple[ColumnSpec, ...]

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    def column(self, name: str) -> ColumnSpec:
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)

    @property
    def arrow_schema(self) -> pa.Schema:
        return pa.schema(
            [pa.field(c.name, c.arrow_type, nullable=not c.required) for c in self.columns]
        )


def _read_spec(filename: str) -> list[TableSpec]:
    text = resources.files("oncobase.store").joinpath("spec", filename).read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    columns: dict[str, list[ColumnSpec]] = {}
    groups: dict[str, str] = {}
    for row in csv.DictReader(lines, delimiter="\t"):
        groups[row["table"]] = row["schema"]
        columns.setdefault(row["table"], []).append(
            ColumnSpec(
                name=row["column"],
                datatype=row["datatype"],
                required=row["required"] == "Y",
                primary_key=row["primary_key"] == "Y",
                fk_table=row["fk_table"] or None,
                fk_column=row["fk_column"] or None,
            )
        )
    return [TableSpec(name=t, group=groups[t], columns=tuple(cols)) for t, cols in columns.items()]


@cache
def omop_tables() -> tuple[TableSpec, ...]:
    """The 39 OMOP CDM v5.4 tables (clinical, health system, derived, vocabulary, results)."""
    return tuple(_read_spec("omop_cdm_v5_4.tsv"))


@cache
def platform_tables() -> tuple[TableSpec, ...]:
    """OncoBase's own tables (load metadata, settings)."""
    return tuple(_read_spec("platform.tsv"))


@cache
def all_tables() -> dict[str, TableSpec]:
    """Every table of the store by name, OMOP first."""
    return {t.name: t for t in (*omop_tables(), *platform_tables())}


def table_spec(name: str) -> TableSpec:
    """The specification of one table; raises KeyError with the known names if unknown."""
    try:
        return all_tables()[name]
    except KeyError:
        raise KeyError(f"{name!r} is not a table of the OncoBase store") from None
