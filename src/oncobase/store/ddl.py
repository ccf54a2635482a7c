"""DDL generated from the table specification, and store creation."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from oncobase.store.backend import Backend, quote_ident
from oncobase.store.spec import CDM_VERSION, TableSpec, all_tables

# Lookups the vocabulary mapping and the pipeline do often; DuckDB needs no index for them.
_POSTGRES_INDEXES = {
    "concept": [("vocabulary_id", "concept_code")],
    "concept_relationship": [("concept_id_1", "relationship_id")],
    "platform__loads": [("step", "status")],
}


def create_table_sql(backend: Backend, spec: TableSpec) -> str:
    """``CREATE TABLE IF NOT EXISTS`` for one table on the backend's dialect."""
    lines = [
        f"  {quote_ident(c.name)} {backend.column_sql_type(c)}{' NOT NULL' if c.required else ''}"
        for c in spec.columns
    ]
    if spec.primary_key:
        lines.append(f"  PRIMARY KEY ({', '.join(quote_ident(c) for c in spec.primary_key)})")
    body = ",\n".join(lines)
    return f"CREATE TABLE IF NOT EXISTS {quote_ident(spec.name)} (\n{body}\n)"


@dataclass(frozen=True, kw_only=True)
class StoreCreated:
    """What ``create_store`` did."""

    engine: str
    created: tuple[str, ...]
    existing: tuple[str, ...]


def create_store(backend: Backend) -> StoreCreated:
    """Create every missing OMOP and platform table; leave existing tables untouched."""
    from oncobase import __version__

    present = set(backend.list_tables())
    created: list[str] = []
    for name, spec in all_tables().items():
        if name in present:
            continue
        backend.execute(create_table_sql(backend, spec))
        if backend.engine == "postgresql":
            for cols in _POSTGRES_INDEXES.get(name, []):
                index = f"ix_{name}_{'_'.join(cols)}"
                column_list = ", ".join(quote_ident(c) for c in cols)
                backend.execute(
                    f"CREATE INDEX IF NOT EXISTS {quote_ident(index)} "
                    f"ON {quote_ident(name)} ({column_list})"
                )
        created.append(name)
    if "platform__settings" in created:
        now = datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds")
        for key, value in (
            ("cdm_version", CDM_VERSION),
            ("created_by", f"oncobase {__version__}"),
            ("created_at", now),
        ):
            backend.execute(
                'INSERT INTO platform__settings ("key", "value") VALUES ($1, $2)', (key, value)
            )
    return StoreCreated(
        engine=backend.engine,
        created=tuple(created),
        existing=tuple(sorted(present & set(all_tables()))),
    )
