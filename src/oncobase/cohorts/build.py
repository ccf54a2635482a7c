"""Running a compiled cohort: on any Ibis tables (``run_cohort``) or into the store's OMOP
``cohort`` and ``cohort_definition`` tables (``build_cohort``), with the build record."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
import pyarrow.compute as pc

import oncobase
from oncobase.cohorts.compile import OPTIONAL_TABLES, REQUIRED_TABLES, compile_cohort
from oncobase.cohorts.errors import CohortError
from oncobase.cohorts.spec import CohortDefinition
from oncobase.store import Backend, bulk_load
from oncobase.store.ibis import ibis_connection

COHORT_TYPE_CONCEPT_ID = 0  # no standard concept shipped for "rule-based cohort definition"
SUBJECT_CONCEPT_ID = 1147314  # OMOP: person (cohort subjects are persons)
CONTEXT_TABLES = ("episode", "ingest__record_keys")  # characterisation and completeness


@dataclass(frozen=True, kw_only=True)
class CohortResult:
    """The rows of one cohort computed on some engine (members with entry details)."""

    definition: CohortDefinition
    members: pa.Table
    attrition: pa.Table
    seconds: float


@dataclass(frozen=True, kw_only=True)
class CohortBuild:
    """A cohort written to the store, with what it was built from."""

    name: str
    cohort_definition_id: int
    members: int
    attrition: pa.Table
    definition_hash: str
    store_state: str
    code_version: str
    built_at: str
    seconds: float

    def record(self) -> dict[str, Any]:
        """The build record (JSON-able), as stored in ``cohort_definition_syntax``."""
        return {
            "name": self.name,
            "cohort_definition_id": self.cohort_definition_id,
            "members": self.members,
            "definition_hash": self.definition_hash,
            "store_state": self.store_state,
            "code_version": self.code_version,
            "built_at": self.built_at,
            "seconds": round(self.seconds, 3),
            "attrition": self.attrition.to_pylist(),
        }


@cache
def code_version() -> str:
    """``oncobase`` version plus a digest of the cohort package's code and library."""
    digest = hashlib.sha256()
    root = resources.files("oncobase.cohorts")
    for entry in sorted(_walk(root), key=str):
        digest.update(str(entry).encode())
        digest.update(entry.read_bytes())
    return f"{oncobase.__version__}+{digest.hexdigest()[:12]}"


def _walk(folder: Any) -> list[Any]:
    files: list[Any] = []
    for entry in folder.iterdir():
        if entry.is_dir() and entry.name != "__pycache__":
            files.extend(_walk(entry))
        elif entry.name.endswith((".py", ".yaml")):
            files.append(entry)
    return files


def attrition_table(definition: CohortDefinition, counts: Mapping[str, int]) -> pa.Table:
    """Step, rule, type, persons left, dropped at that step, and percent of entry."""
    entry = int(counts["entry"])
    names = ["entry", *definition.rule_names()]
    types = ["entry", *(r.type for r in definition.inclusion)]
    left = [entry, *(int(counts[f"rule_{i}"]) for i in range(len(definition.inclusion)))]
    dropped = [0, *(left[i] - left[i + 1] for i in range(len(left) - 1))]
    pct = [round(100.0 * n / entry, 2) if entry else 0.0 for n in left]
    return pa.table(
        {
            "step": pa.array(range(len(names)), pa.int64()),
            "rule": names,
            "type": types,
            "persons": pa.array(left, pa.int64()),
            "dropped": pa.array(dropped, pa.int64()),
            "pct_of_entry": pa.array(pct, pa.float64()),
        }
    )


def run_cohort(tables: Mapping[str, ir.Table], definition: CohortDefinition) -> CohortResult:
    """Compile and execute on the engine of ``tables``; members sorted by person."""
    missing = [t for t in REQUIRED_TABLES if t not in tables]
    if missing:
        raise CohortError(f"cohort {definition.name}: the store lacks tables {missing}")
    started = time.perf_counter()
    compiled = compile_cohort(tables, definition)
    members: pa.Table = compiled.members.order_by("person_id").to_pyarrow()
    counts = compiled.attrition.to_pyarrow().to_pylist()[0]
    return CohortResult(
        definition=definition,
        members=members,
        attrition=attrition_table(definition, counts),
        seconds=time.perf_counter() - started,
    )


def read_store_tables(backend: Backend) -> dict[str, ir.Table]:
    """The OMOP tables a cohort reads, as Ibis tables over the store."""
    con = ibis_connection(backend)
    optional = (*OPTIONAL_TABLES, *CONTEXT_TABLES)
    names = [*REQUIRED_TABLES, *(t for t in optional if backend.table_exists(t))]
    missing = [t for t in REQUIRED_TABLES if not backend.table_exists(t)]
    if missing:
        raise CohortError(f"the store lacks the OMOP tables {missing}: run `oncobase store init`")
    return {name: con.table(name) for name in names}


def describe_store_state(backend: Backend) -> str:
    """A digest of the row counts of the tables a cohort reads (changes when data changes)."""
    names = [t for t in (*REQUIRED_TABLES, *OPTIONAL_TABLES) if backend.table_exists(t)]
    sql = " UNION ALL ".join(f"SELECT '{n}' AS t, count(*) AS n FROM {n}" for n in names)
    rows = backend.query_arrow(sql).to_pylist()
    text = json.dumps(sorted((r["t"], int(r["n"])) for r in rows))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _definition_id(backend: Backend, name: str) -> int:
    found = backend.scalar(
        "SELECT min(cohort_definition_id) FROM cohort_definition WHERE cohort_definition_name = $1",
        (name,),
    )
    if found is not None:
        return int(str(found))
    top = backend.scalar("SELECT coalesce(max(cohort_definition_id), 0) FROM cohort_definition")
    return int(str(top)) + 1


def write_cohort(backend: Backend, result: CohortResult, *, store_state: str) -> CohortBuild:
    """Replace the cohort's rows in ``cohort`` and its ``cohort_definition`` row."""
    definition = result.definition
    cid = _definition_id(backend, definition.name)
    members = result.members
    n = members.num_rows
    cohort_rows = pa.table(
        {
            "cohort_definition_id": pa.array([cid] * n, pa.int64()),
            "subject_id": members.column("person_id"),
            "cohort_start_date": members.column("cohort_start_date"),
            "cohort_end_date": members.column("cohort_end_date"),
        }
    )
    build = CohortBuild(
        name=definition.name,
        cohort_definition_id=cid,
        members=n,
        attrition=result.attrition,
        definition_hash=definition.content_hash(),
        store_state=store_state,
        code_version=code_version(),
        built_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        seconds=result.seconds,
    )
    syntax = json.dumps(
        {"definition": definition.model_dump(mode="json"), "build": build.record()},
        ensure_ascii=False,
    )
    definition_row = pa.table(
        {
            "cohort_definition_id": pa.array([cid], pa.int64()),
            "cohort_definition_name": [definition.name],
            "cohort_definition_description": [f"{definition.title} (v{definition.version})"],
            "definition_type_concept_id": pa.array([COHORT_TYPE_CONCEPT_ID], pa.int64()),
            "cohort_definition_syntax": [syntax],
            "subject_concept_id": pa.array([SUBJECT_CONCEPT_ID], pa.int64()),
            "cohort_initiation_date": pa.array([dt.date.today()], pa.date32()),
        }
    )
    with backend.transaction():
        backend.execute("DELETE FROM cohort WHERE cohort_definition_id = $1", (cid,))
        backend.execute("DELETE FROM cohort_definition WHERE cohort_definition_id = $1", (cid,))
        bulk_load(
            backend, "cohort_definition", definition_row, step="cohorts", source=definition.name
        )
        if n:
            bulk_load(backend, "cohort", cohort_rows, step="cohorts", source=definition.name)
    return build


OPT_OUT_RULE = "research opt-out"


def exclude_persons(result: CohortResult, person_ids: Sequence[int]) -> CohortResult:
    """The cohort without ``person_ids`` (research opt-outs), with an attrition line for it."""
    members = result.members
    drop = pa.array(list(person_ids), pa.int64())
    kept = members.filter(pc.invert(pc.is_in(members["person_id"].cast(pa.int64()), drop)))
    attrition = result.attrition
    entry = int(attrition["persons"][0].as_py()) if attrition.num_rows else 0
    line = pa.table(
        {
            "step": pa.array([attrition.num_rows], pa.int64()),
            "rule": [OPT_OUT_RULE],
            "type": ["opt_out"],
            "persons": pa.array([kept.num_rows], pa.int64()),
            "dropped": pa.array([members.num_rows - kept.num_rows], pa.int64()),
            "pct_of_entry": pa.array(
                [round(100.0 * kept.num_rows / entry, 2) if entry else 0.0], pa.float64()
            ),
        }
    )
    return CohortResult(
        definition=result.definition,
        members=kept,
        attrition=pa.concat_tables([attrition, line.cast(attrition.schema)]),
        seconds=result.seconds,
    )


def build_cohort(
    backend: Backend,
    definition: CohortDefinition,
    *,
    excluded_person_ids: Sequence[int] | None = None,
) -> CohortBuild:
    """Build one cohort on the store and write it to ``cohort``/``cohort_definition``.

    ``excluded_person_ids`` (the research opt-outs in force) are left out, with an attrition
    line ``research opt-out``; ``None`` (the default) excludes nobody and adds no line.
    """
    result = run_cohort(read_store_tables(backend), definition)
    if excluded_person_ids is not None:
        result = exclude_persons(result, excluded_person_ids)
    return write_cohort(backend, result, store_state=describe_store_state(backend))


def read_build_record(backend: Backend, name: str) -> dict[str, Any] | None:
    """The last build record of a cohort (definition and build), or None if never built."""
    rows = backend.query_arrow(
        "SELECT cohort_definition_syntax FROM cohort_definition "
        "WHERE cohort_definition_name = $1 ORDER BY cohort_definition_id LIMIT 1",
        (name,),
    ).to_pylist()
    if not rows or not rows[0]["cohort_definition_syntax"]:
        return None
    record: dict[str, Any] = json.loads(rows[0]["cohort_definition_syntax"])
    return record
