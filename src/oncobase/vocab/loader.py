"""Loading vocabularies into the store: the built-in subset and OHDSI Athena exports."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from oncobase.errors import VocabError
from oncobase.store import Backend, bulk_load, quote_ident
from oncobase.vocab.builtin import LOCAL_CONCEPT_ID_START, builtin_vocabulary

LOCAL = LOCAL_CONCEPT_ID_START

# Vocabulary tables keyed by text id: (table, key column, concept-id column).
_KEYED = (
    ("vocabulary", "vocabulary_id", "vocabulary_concept_id"),
    ("domain", "domain_id", "domain_concept_id"),
    ("concept_class", "concept_class_id", "concept_class_concept_id"),
    ("relationship", "relationship_id", "relationship_concept_id"),
)
# Athena file → table, in load order.
ATHENA_FILES = (
    "VOCABULARY",
    "DOMAIN",
    "CONCEPT_CLASS",
    "RELATIONSHIP",
    "CONCEPT",
    "CONCEPT_RELATIONSHIP",
    "CONCEPT_ANCESTOR",
    "CONCEPT_SYNONYM",
    "DRUG_STRENGTH",
)
_DATE_COLUMNS = ("valid_start_date", "valid_end_date")


@dataclass(kw_only=True)
class VocabLoadReport:
    """What a vocabulary load wrote, table by table, and the rows it could not read."""

    rows: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, list[str]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def _existing_keys(backend: Backend, table: str, key: str) -> set[str]:
    result = backend.query_arrow(f"SELECT {quote_ident(key)} AS k FROM {quote_ident(table)}")
    return {str(v) for v in result.column("k").to_pylist()}


def delete_builtin(backend: Backend) -> None:
    """Remove every built-in (local-range) vocabulary row."""
    backend.execute(f"DELETE FROM concept WHERE concept_id >= {LOCAL}")
    backend.execute(
        f"DELETE FROM concept_relationship WHERE concept_id_1 >= {LOCAL} OR concept_id_2 >= {LOCAL}"
    )
    backend.execute(f"DELETE FROM concept_ancestor WHERE ancestor_concept_id >= {LOCAL}")
    for table, _key, concept_column in _KEYED:
        backend.execute(f"DELETE FROM {table} WHERE {concept_column} >= {LOCAL}")


def load_builtin(backend: Backend, *, run_id: str | None = None) -> VocabLoadReport:
    """(Re)load the built-in vocabulary; rows of an Athena export already loaded win.

    Idempotent: the local-range rows are deleted, then written again.
    """
    tables = builtin_vocabulary()
    delete_builtin(backend)
    report = VocabLoadReport()
    for table, key, _concept_column in _KEYED:
        data = tables[table]
        existing = _existing_keys(backend, table, key)
        if existing:
            data = data.filter(
                pc.invert(pc.is_in(data.column(key), value_set=pa.array(sorted(existing))))
            )
        report.rows[table] = bulk_load(
            backend, table, data, step="vocab", source="oncobase:builtin", run_id=run_id
        ).rows_accepted
    for table in ("concept", "concept_relationship", "concept_ancestor"):
        report.rows[table] = bulk_load(
            backend, table, tables[table], step="vocab", source="oncobase:builtin", run_id=run_id
        ).rows_accepted
    return report


def _find_file(folder: Path, name: str) -> Path | None:
    for candidate in (f"{name}.csv", f"{name.lower()}.csv", f"{name}.CSV"):
        path = folder / candidate
        if path.is_file():
            return path
    return None


def read_athena_file(path: Path) -> tuple[pa.Table, list[str]]:
    """Read one Athena tab-separated file: typed columns and the lines it had to reject."""
    rejected: list[str] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        where = f"line {row.number}" if row.number is not None else "a line"
        rejected.append(
            f"{path.name} {where}: expected {row.expected_columns} fields, "
            f"found {row.actual_columns}: {row.text[:120]!r}"
        )
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            parse_options=pacsv.ParseOptions(
                delimiter="\t", quote_char=False, invalid_row_handler=on_invalid
            ),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            # Serial parsing lets Arrow report the line number of a rejected row.
            read_options=pacsv.ReadOptions(block_size=64 << 20, use_threads=False),
        )
    except (pa.ArrowInvalid, OSError) as exc:
        raise VocabError(f"Cannot read the Athena file {path}: {exc}") from None
    table = table.rename_columns([c.lower() for c in table.column_names])
    for name in _DATE_COLUMNS:
        if name in table.column_names:
            table = table.set_column(
                table.column_names.index(name), name, _parse_dates(table.column(name), path, name)
            )
    return table, rejected


def _parse_dates(column: pa.ChunkedArray, path: Path, name: str) -> pa.ChunkedArray:
    if pa.types.is_date(column.type) or pa.types.is_timestamp(column.type):
        return pc.cast(column, pa.date32())
    text = pc.cast(column, pa.string())
    fmt = "%Y-%m-%d" if pc.any(pc.match_substring(text, "-")).as_py() else "%Y%m%d"
    try:
        return pc.cast(pc.strptime(text, format=fmt, unit="s"), pa.date32())
    except pa.ArrowInvalid as exc:
        raise VocabError(
            f"{path.name}: column {name} has a date that is not {fmt}: {exc}"
        ) from None


def _file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_athena(backend: Backend, folder: Path, *, run_id: str | None = None) -> VocabLoadReport:
    """Load an OHDSI Athena vocabulary export (CONCEPT.csv, CONCEPT_RELATIONSHIP.csv …).

    Athena rows replace earlier Athena rows and take precedence over the built-in subset
    (same vocabulary/domain/class/relationship ids are replaced; concept lookups prefer
    Athena's concept ids). Lines that cannot be parsed are reported, not loaded.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise VocabError(f"{folder} is not a folder; give the unzipped Athena download folder")
    found = {name: _find_file(folder, name) for name in ATHENA_FILES}
    if found["CONCEPT"] is None:
        raise VocabError(
            f"{folder} has no CONCEPT.csv: is it an unzipped Athena vocabulary download?"
        )
    report = VocabLoadReport()
    for name, path in found.items():
        if path is None:
            continue
        table_name = name.lower()
        data, rejected = read_athena_file(path)
        if rejected:
            report.rejected[path.name] = rejected
        keyed = {t: (k, c) for t, k, c in _KEYED}
        if table_name in keyed:
            key = keyed[table_name][0]
            keys = data.column(key).to_pylist()
            if keys:
                backend.execute(
                    f"DELETE FROM {table_name} WHERE {quote_ident(key)} IN "
                    f"({', '.join('$' + str(i + 1) for i in range(len(keys)))})",
                    keys,
                )
        elif table_name == "concept":
            backend.execute(f"DELETE FROM concept WHERE concept_id < {LOCAL}")
        elif table_name == "concept_relationship":
            backend.execute(
                f"DELETE FROM concept_relationship WHERE concept_id_1 < {LOCAL} "
                f"AND concept_id_2 < {LOCAL}"
            )
        elif table_name == "concept_ancestor":
            backend.execute(f"DELETE FROM concept_ancestor WHERE ancestor_concept_id < {LOCAL}")
        elif table_name == "concept_synonym":
            backend.execute(f"DELETE FROM concept_synonym WHERE concept_id < {LOCAL}")
        else:
            backend.execute(f"DELETE FROM {table_name}")
        result = bulk_load(
            backend,
            table_name,
            data,
            step="vocab.athena",
            source=str(path),
            input_hash=_file_hash(path),
            run_id=run_id,
            rows_quarantined=len(rejected),
        )
        report.rows[table_name] = result.rows_accepted
    return report
